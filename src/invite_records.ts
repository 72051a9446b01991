/**
 * Account invites as mod_invites stores them: the host-wide map store
 * "invite_token" (token → record), the same in 0.12 and 13. Read directly
 * for what mod_invites' API does not tell:
 *  - whether an invite that expired after <preauth/> still exists (not
 *    used, not deleted): XEP-0445 §4 checks expiry at <preauth/> only, and
 *    `get_account_invite_info` answers nothing for an expired invite;
 *  - all pending invites, with a failing store told apart from an empty
 *    one (`pending_account_invites` reads a failure as "no invites").
 * Every read is protected: a failure is logged and returned, never raised.
 */
import { logged } from "./protected_storage";
import { jid } from "./prosody_require";
import { redact } from "./tokens";
import type { InviteAdditionalData, InviteRecord } from "./types/mod_invites";
import type { KeyvalStore, MapStore } from "./types/storage";

export type RecordProblem = "token-invalid" | "internal-error";

// Opened on first use: prosodyctl loads the module without storage.
let by_token: MapStore<InviteRecord> | undefined;
let by_user: MapStore<number> | undefined;
let all_records: KeyvalStore<LuaTable<string, InviteRecord>> | undefined;

function read_one(token: string): LuaMultiReturn<[InviteRecord | undefined, string?]> {
	by_token ??= module.open_store<InviteRecord>("invite_token", "map");
	return by_token.get(undefined, token);
}

function read_all(): LuaMultiReturn<[LuaTable<string, InviteRecord> | undefined, string?]> {
	all_records ??= module.open_store<LuaTable<string, InviteRecord>>("invite_token");
	return all_records.get(undefined);
}

/** One entry of mod_invites' store, read protected: "token-invalid" when there is none, "internal-error" when storage failed (logged). */
function read_entry<T>(token: string, read: (this: void) => LuaMultiReturn<[T | undefined, string?]>): LuaMultiReturn<[T] | [undefined, RecordProblem]> {
	const [ok, value] = logged(`read invite ${redact(token)} from storage`, read);
	if (!ok) {
		return $multi(undefined, "internal-error");
	}
	if (value === undefined) {
		return $multi(undefined, "token-invalid");
	}
	return $multi(value as T);
}

/**
 * The stored record of an account invite, expired or not: "token-invalid"
 * when it is gone (used or deleted), "internal-error" when storage failed.
 */
export function read_account_invite(token: string): LuaMultiReturn<[InviteRecord] | [undefined, RecordProblem]> {
	const [record, problem] = read_entry(token, () => read_one(token));
	if (record === undefined) {
		return $multi(undefined, problem as RecordProblem);
	}
	if (type(record) !== "table") {
		return $multi(undefined, "token-invalid");
	}
	return $multi(record);
}

/**
 * The expiry of one of `username`'s contact invites, from mod_invites'
 * store of that user (token → expiry time), which every contact invite is
 * written to: "token-invalid" when there is none, "internal-error" when
 * storage failed.
 */
export function read_contact_invite_expiry(username: string, token: string): LuaMultiReturn<[number] | [undefined, RecordProblem]> {
	return read_entry(token, () => {
		by_user ??= module.open_store<number>("invite_token", "map");
		return by_user.get(username, token);
	});
}

/** Deletes one entry of mod_invites' store (nil user: the host's); false when storage failed (logged as "Could not delete `what`"). */
function delete_entry(what: string, username: string | undefined, token: string): boolean {
	const [ok, deleted, err] = pcall(() => {
		by_token ??= module.open_store<InviteRecord>("invite_token", "map");
		const [done, problem] = by_token.set(username, token, undefined);
		return $multi(done === true, problem); // only true is success (a driver may answer false, err)
	});
	if (!ok || !deleted) {
		module.log("warn", "Could not delete %s: %s", what, ok ? err : deleted);
		return false;
	}
	return true;
}

/** Deletes one of `username`'s contact invites from that user's store (as mod_invites' use() does); false when storage failed (logged). */
export function delete_contact_invite_entry(username: string, token: string): boolean {
	return delete_entry(`contact invite ${redact(token)} from the store of ${username}`, username, token);
}

/** Deletes an invite's record from the host store (as mod_invites' use() does); false when storage failed (logged). */
export function delete_account_invite_record(token: string): boolean {
	return delete_entry(`invite ${redact(token)} from storage`, undefined, token);
}

/** Every stored account invite (expired ones included), or nil when storage failed (logged). */
export function read_all_account_invites(): LuaTable<string, InviteRecord> | undefined {
	const [ok, records] = logged("read the pending invites from storage", read_all);
	if (!ok) {
		return undefined;
	}
	return records ?? new LuaTable();
}

/** A username as mod_register_ibr compares it (nodeprep), or as given when it cannot be prepared. */
export function normalise_username(username: string, host: string): string {
	return jid.node(jid.prep(`${username}@${host}`) ?? "") ?? username;
}

/**
 * The only username this invite may be used for: the account a reset invite
 * resets, or the username an account invite was made for (its JID has a node).
 */
export function bound_username(record: InviteRecord, host: string): string | undefined {
	const reset_username = reset_target(record);
	if (reset_username !== undefined) {
		return normalise_username(reset_username, host);
	}
	if (record.type !== "register" || type(record.jid) !== "string") {
		return undefined; // a contact invite's JID is the inviter's
	}
	const [node] = jid.split(record.jid);
	return node !== undefined ? normalise_username(node, host) : undefined;
}

/**
 * The account a password reset invite resets, or nil. Records come from
 * storage, possibly written by other modules: what is read is checked.
 */
export function reset_target(record: { readonly additional_data?: InviteAdditionalData }): string | undefined {
	const data = record.additional_data;
	if (type(data) !== "table") {
		return undefined;
	}
	const reset_username = data?.allow_reset;
	return type(reset_username) === "string" ? reset_username : undefined;
}
