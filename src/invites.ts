/**
 * Calls into mod_invites, protected: a Lua error raised by mod_invites or by
 * its storage is logged and reported as "internal-error", never thrown
 * through one of our hooks. An account invite is decided by one read of
 * its record instead (what mod_invites' get() reads, and builds its answer
 * from), and used by a deletion whose result is seen: so that neither a
 * made-up token, nor an invite made before a restart, nor confirming a
 * use costs another read of the invite store (with file storage, a parse
 * of every pending invite). spec/build/mod_invites_mirror.test.ts fails
 * when a Prosody version's get() or use() is not the one mirrored here.
 */
import { delete_account_invite_record, delete_contact_invite_entry, read_account_invite, read_contact_invite_expiry, type RecordProblem } from "./invite_records";
import { jid } from "./prosody_require";
import { redact } from "./tokens";
import type { InviteError, InviteRecord, ModInvites, ValidInvite } from "./types/mod_invites";

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
 * The Prosody series whose mod_invites get() and use() are mirrored below
 * (spec/build/mod_invites_mirror.test.ts checks 0.12.3, 13.0.1 and
 * 13.0.6; a point release of a series fixes bugs). On another, mod_invites
 * decides, at the cost of one more read per registration.
 */
const release = prosody.version ?? "";
const mirrored = string.match(release, "^0%.12%.")[0] !== undefined || string.match(release, "^13%.0%.")[0] !== undefined;
if (!mirrored) {
	module.log("info", "mod_invites of Prosody %s was not checked against this module: invites are checked by mod_invites itself (one more read of its store per registration)", prosody.version ?? "(unknown version)");
}

/**
 * mod_invites' `use()` of a valid invite, for the invites built here from
 * a record read in its store: a single-use invite is deleted from the host
 * store, and a contact invite from its user's store too (mod_invites
 * 0.12.3, 13.0.1 and 13.0.6 alike). Unlike theirs, it says whether the
 * host store let the invite go, so that the deletion needs no read to be
 * confirmed (used_invites.ts).
 */
function use_stored_invite(this: ValidInvite): boolean {
	if (this.reusable === true) {
		return true;
	}
	if (this.username !== undefined) {
		delete_contact_invite_entry(this.username, this.token);
	}
	return delete_account_invite_record(this.token);
}

/**
 * What mod_invites' `get(token)` returns for account registration, built
 * from the record already read (its get() in 0.12.3, 13.0.1 and 13.0.6:
 * expiry checked, a contact invite's user as `username` and `inviter`).
 * Undefined for a record of a shape mod_invites does not write, or on a
 * Prosody whose mod_invites was not checked (mod_invites then decides).
 */
function invite_from_record(token: string, record: InviteRecord): ValidInvite | InviteError | undefined {
	if (
		!mirrored ||
		type(record.expires) !== "number" ||
		type(record.uri) !== "string" ||
		(record.type !== "register" && record.type !== "roster") ||
		(record.reusable !== undefined && type(record.reusable) !== "boolean")
	) {
		return undefined;
	}
	if (os.time() > record.expires) {
		return "token-expired";
	}
	let username: string | undefined;
	if (record.type === "roster") {
		if (type(record.jid) !== "string") {
			return undefined;
		}
		username = jid.node(record.jid);
	}
	return {
		token,
		username,
		inviter: username,
		type: record.type,
		uri: record.uri,
		additional_data: record.additional_data,
		reusable: record.reusable === true,
		use: use_stored_invite,
	};
}

/**
 * An invite valid for account registration (what `<preauth/>` presents),
 * decided by one read of its record, as invite_records.ts reads it (with
 * file storage a parse of every pending invite): one without a record is
 * invalid, one with is the invite mod_invites' get() would return, and its
 * use() says whether storage let it go. A store that fails is
 * "internal-error", never "invalid". A record of another shape is left to
 * mod_invites. With the invite, the record it was read from (for the
 * accounts it names: invite_accounts.ts).
 */
export function get_account_invite(invites: ModInvites | undefined, token: string): LuaMultiReturn<[ValidInvite, undefined, InviteRecord] | [undefined, InviteProblem]> {
	if (invites === undefined) {
		return not_loaded();
	}
	const [record, problem] = read_account_invite(token);
	if (record === undefined) {
		return $multi(undefined, problem);
	}
	const built = invite_from_record(token, record);
	if (typeof built === "string") {
		return $multi(undefined, built);
	}
	if (built !== undefined) {
		return $multi(built, undefined, record);
	}
	const [ok, invite, err] = protected_call(invites.get, token, undefined);
	if (!ok) {
		return failed("check an invite", token, invite);
	}
	if (invite === undefined) {
		return $multi(undefined, err === "token-invalid" ? confirm_missing(() => read_account_invite(token)) : err);
	}
	return $multi(invite, undefined, record);
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
		use: use_stored_invite,
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
 * Marks an invite used: "deleted" when storage is known to have let it go
 * (an invite built here); "unconfirmed" when mod_invites' own use() did it
 * (it ignores storage errors), or it failed (a Lua error is logged).
 */
export function use_invite(invite: ValidInvite): "deleted" | "unconfirmed" {
	const [ok, deleted] = pcall(call_use, invite);
	if (!ok) {
		module.log("error", "mod_invites failed to mark invite %s used: %s", redact(invite.token), deleted);
		return "unconfirmed";
	}
	return invite.use === use_stored_invite && deleted === true ? "deleted" : "unconfirmed";
}
