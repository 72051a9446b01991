/**
 * Calls into mod_invites, protected: a Lua error raised by mod_invites or by
 * its storage is logged and reported as "internal-error", never thrown
 * through one of our hooks.
 */
import { read_account_invite, read_contact_invite_expiry, type RecordProblem } from "./invite_records";
import { is_pending_token } from "./pending_invites";
import { redact } from "./tokens";
import type { InviteError, ModInvites, ValidInvite } from "./types/mod_invites";

/** Why an invite cannot be used: mod_invites' own reasons, or a failure to ask it. */
export type InviteProblem = InviteError | "internal-error";

type Checked<T> = LuaMultiReturn<[T] | [undefined, InviteProblem]>;

function failed(what: string, token: string, err: unknown): LuaMultiReturn<[undefined, InviteProblem]> {
	module.log("error", "mod_invites failed to %s (token %s): %s", what, redact(token), err);
	return $multi(undefined, "internal-error");
}

/** Only under prosodyctl, which loads modules without their dependencies. */
function not_loaded(): LuaMultiReturn<[undefined, InviteProblem]> {
	module.log("error", "mod_invites is not loaded, invite tokens cannot be checked");
	return $multi(undefined, "internal-error");
}

/**
 * mod_invites reads a failed store as "no such invite" (its get() turns
 * the store's nil, err into "token-invalid"): when it calls a token
 * invalid that our own read found, the entry is read once more; a store
 * that fails then, or an entry still there, is "internal-error" (the
 * client is told to try again later, not that its invite is invalid).
 */
function confirm_missing(read: (this: void) => LuaMultiReturn<[unknown] | [undefined, RecordProblem]>): InviteProblem {
	const [value, problem] = read();
	// Still there: mod_invites' own read must have failed.
	return value === undefined && problem === "token-invalid" ? "token-invalid" : "internal-error";
}

/**
 * An invite valid for account registration (what `<preauth/>` presents).
 * A token not known to be pending has its record read first, as
 * invite_records.ts reads it: one without is invalid after that single
 * read (with file storage a parse of every pending invite), and
 * mod_invites is asked only about tokens that have a record; a store that
 * fails is "internal-error", never "invalid".
 */
export function get_account_invite(invites: ModInvites | undefined, token: string): Checked<ValidInvite> {
	if (invites === undefined) {
		return not_loaded();
	}
	// A token known to be pending (made here, or found in storage) is a
	// real invite: mod_invites is asked at once, one read as before.
	if (!is_pending_token(token)) {
		const [record, problem] = read_account_invite(token);
		if (record === undefined) {
			return $multi(undefined, problem);
		}
	}
	const [ok, invite, err] = protected_call(invites.get, token, undefined);
	if (!ok) {
		return failed("check an invite", token, invite);
	}
	if (invite === undefined) {
		return $multi(undefined, err === "token-invalid" ? confirm_missing(() => read_account_invite(token)) : err);
	}
	return $multi(invite);
}

/** The user store of mod_invites: token → expiry time of the user's contact invites. */
function contact_invite_store() {
	return module.open_store<number>("invite_token", "map");
}

function use_contact_invite(this: ValidInvite): boolean {
	const store = contact_invite_store();
	store.set(this.username, this.token, undefined);
	store.set(undefined, this.token, undefined);
	return true;
}

/**
 * What 13's mod_invites returns for a contact invite made without
 * registration rights, which 0.12.3's `get` fails on with a Lua error
 * (it reads `token_info.reusable` when there is no token_info); `expires`
 * as read from the user's store.
 */
function contact_invite_from_store(token: string, username: string, expires: number): ValidInvite | InviteError {
	if (os.time() > expires) {
		return "token-expired";
	}
	return {
		token,
		username,
		type: "roster",
		uri: `xmpp:${username}@${module.host}?roster;preauth=${token}`,
		reusable: false,
		use: use_contact_invite,
	};
}

/**
 * An invite valid for subscribing to the local user `username` (XEP-0379).
 * mod_invites writes every contact invite into its user's own store
 * (token → expiry) and decides by that entry alone, so that entry is read
 * first: a token without one is invalid after one small read, without
 * mod_invites' read of the host store (with file storage a parse of every
 * pending invite) that a flood of made-up tokens would otherwise cost.
 */
export function get_contact_invite(invites: ModInvites | undefined, token: string, username: string): Checked<ValidInvite> {
	if (invites === undefined) {
		return not_loaded();
	}
	const [expires, read_problem] = read_contact_invite_expiry(username, token);
	if (expires === undefined) {
		return $multi(undefined, read_problem);
	}
	const [ok, invite, err] = protected_call(invites.get, token, username);
	if (ok) {
		if (invite === undefined) {
			return $multi(undefined, err === "token-invalid" ? confirm_missing(() => read_contact_invite_expiry(username, token)) : err);
		}
		return $multi(invite);
	}
	module.log("debug", "mod_invites could not check contact invite %s (%s), reading its store", redact(token), invite);
	const fallback = contact_invite_from_store(token, username, expires);
	if (typeof fallback === "string") {
		return $multi(undefined, fallback);
	}
	return $multi(fallback);
}

function call_use(invite: ValidInvite): boolean {
	return invite.use();
}

/**
 * Marks an invite used. Returns false when mod_invites raised an error
 * (then it is logged).
 */
export function use_invite(invite: ValidInvite): boolean {
	const [ok, err] = pcall(call_use, invite);
	if (!ok) {
		module.log("error", "mod_invites failed to mark invite %s used: %s", redact(invite.token), err);
	}
	return ok;
}
