/**
 * The invite life cycle after a successful use, in one place: what must
 * happen when an invite was used for what it allowed (an account
 * registered, a password reset, a XEP-0379 subscription approved).
 *
 *  1. mod_invites records the use (its `use()`: a single-use invite is
 *     deleted from its store);
 *  2. the claim on it ends (invite_claims.ts), and a single-use invite is
 *     refused from then on, whatever storage says;
 *  3. a single-use invite is no longer pending, and frees the name it
 *     reserved (pending_invites.ts);
 *  4. the use is confirmed: mod_invites ignores a failed delete (its
 *     `use()` returns true regardless), which would leave a used invite
 *     valid after a restart. An invite built in invites.ts says whether
 *     its deletion succeeded; one of mod_invites' own (a web registration,
 *     XEP-0379) is read back. A single-use invite whose record is still in
 *     mod_invites' host store afterwards is written to this module's store
 *     "invites_register_unrecorded" (token → expiry), refused from then on,
 *     across restarts too, and deleted again every RETRY_SECONDS until the
 *     store lets it go; the admin is told at error level.
 */
import { burn, mark_used, release_invite, unburn } from "./invite_claims";
import { read_account_invite, delete_account_invite_record } from "./invite_records";
import { use_invite } from "./invites";
import { count_unrecorded_use } from "./metrics";
import { forget_invite } from "./pending_invites";
import { logged } from "./protected_storage";
import { redact } from "./tokens";
import type { ValidInvite } from "./types/mod_invites";
import type { MapStore } from "./types/storage";

/** Seconds between attempts to delete the invites whose use could not be recorded. */
const RETRY_SECONDS = 30;

/** token → expiry of the used invites still in mod_invites' store (a handful, if storage failed). */
const unrecorded = new LuaTable<string, number>();
/** Tokens of `unrecorded` not yet written to this module's store either (it failed too). */
const unsaved = new LuaTable<string, true>();
let retrying = false;

let store: MapStore<number> | undefined;
function unrecorded_store(): MapStore<number> {
	store ??= module.open_store<number>("invites_register_unrecorded", "map");
	return store;
}

function save(token: string, expires: number | undefined): boolean {
	const [ok] = logged(`write the use of invite ${redact(token)} to storage`, () => unrecorded_store().set(undefined, token, expires));
	return ok;
}

/** Deletes the used invites still stored, and forgets those that are gone. True when none is left. */
function retry_deletions(): boolean {
	for (const [token, expires] of unrecorded) {
		if (unsaved.has(token) && save(token, expires)) {
			unsaved.delete(token);
		}
		const now = os.time();
		const [record, problem] = read_account_invite(token);
		const gone = record === undefined && problem === "token-invalid";
		if (gone || expires <= now || (record !== undefined && delete_account_invite_record(token))) {
			// Gone, expired (mod_invites refuses it anyway), or deleted now: what remains of ours goes too.
			if (save(token, undefined)) {
				unrecorded.delete(token);
				unsaved.delete(token);
				unburn(token);
				module.log("info", "Used invite %s is now deleted from storage", redact(token));
			}
		}
	}
	return next(unrecorded)[0] === undefined;
}

function start_retrying(): void {
	if (retrying) {
		return;
	}
	retrying = true;
	module.add_timer(RETRY_SECONDS, () => {
		const [ok, done] = pcall(retry_deletions);
		if (!ok) {
			module.log("error", "Could not delete the used invites still in storage: %s", done);
		}
		if (ok && done) {
			retrying = false;
			return undefined;
		}
		return RETRY_SECONDS;
	});
}

/** A single-use account invite was used: makes sure that mod_invites' record is gone, or keeps the use ourselves. */
function confirm_recorded(invite: ValidInvite): void {
	const [record, problem] = read_account_invite(invite.token);
	if (record === undefined && problem === "token-invalid") {
		return; // deleted, as it should be
	}
	const expires = record !== undefined && type(record.expires) === "number" ? record.expires : os.time() + 86400 * 7;
	module.log("error", "Invite %s was used, but mod_invites could not delete it from storage; it is refused here, and deleted again every %d s", redact(invite.token), RETRY_SECONDS);
	count_unrecorded_use();
	unrecorded.set(invite.token, expires);
	burn(invite.token);
	if (!save(invite.token, expires)) {
		unsaved.set(invite.token, true);
	}
	start_retrying();
}

/**
 * The invite was used for what it allowed: every piece of state that must
 * know is told (see above). Called by registration, password reset and
 * XEP-0379 alike.
 */
export function invite_used(invite: ValidInvite): void {
	const used = use_invite(invite);
	if (invite.reusable) {
		release_invite(invite.token);
		return;
	}
	mark_used(invite.token);
	forget_invite(invite.token);
	if (used === "deleted") {
		return; // storage said so: nothing to confirm
	}
	// (A contact invite without registration was never in the host store: it reads as deleted.)
	const [ok, err] = pcall(confirm_recorded, invite);
	if (!ok) {
		module.log("error", "Could not confirm the use of invite %s: %s", redact(invite.token), err);
	}
}

function read_unrecorded(): LuaMultiReturn<[LuaTable<string, number> | undefined, string?]> {
	return module.open_store<LuaTable<string, number>>("invites_register_unrecorded").get(undefined);
}

/**
 * When the module loads: the uses that could not be recorded before (a
 * handful at most) are refused again, and their deletion tried at once,
 * then every RETRY_SECONDS. A store that cannot be read is logged.
 */
export function load_unrecorded_uses(): void {
	const [ok, entries] = logged("read the invites whose use was not recorded", read_unrecorded);
	if (!ok || entries === undefined) {
		return;
	}
	for (const [token, expires] of entries) {
		if (type(token) === "string" && type(expires) === "number") {
			unrecorded.set(token, expires);
			burn(token);
		}
	}
	// Storage may work again after the restart: the first attempt at once.
	if (next(unrecorded)[0] !== undefined && !retry_deletions()) {
		start_retrying();
	}
}
