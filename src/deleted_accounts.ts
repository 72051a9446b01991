/**
 * Invites die with their accounts: when an account of this host is deleted
 * in the server (user-deleted), the pending invites it made and the reset
 * invites for it are deleted from storage at once, found through this
 * module's own store of the invites naming each account (one read:
 * invite_index_store.ts), not by reading every pending invite;
 * and the deletion is remembered (accounts.ts), so that invites of the
 * old account stay void for a new account of the same name.
 *
 * This is housekeeping, not the guarantee: an invite that store does not
 * know (written straight into storage by another tool), or one whose
 * deletion failed, is refused when presented, because the account it
 * names is gone or was registered again since (invite_accounts.ts).
 * Contact invites kept in the user's own store go with the user's other
 * data (Prosody purges it after user-deleted).
 */
import { record_account_deleted } from "./accounts";
import { normalise_username } from "./invite_records";
import { read_named, remove_named } from "./invite_index_store";
import { forget_invite } from "./pending_invites";
import { redact } from "./tokens";
import type { ModInvites } from "./types/mod_invites";

/** Deletes one invite through mod_invites; false (logged) when storage failed or raised. */
function delete_invite(invites: ModInvites, token: string): boolean {
	const [called, deleted, err] = protected_call(invites.delete_account_invite, token);
	if (!called || deleted !== true) {
		module.log("warn", "Could not delete invite %s: %s (it is refused all the same)", redact(token), called ? err : deleted);
		return false;
	}
	return true;
}

/**
 * user-deleted: remembers the deletion (an account of this name that
 * exists later is another one), and deletes the pending invites that name
 * the account.
 */
export function account_deleted(invites: ModInvites | undefined, deleted_username: string): void {
	const username = normalise_username(deleted_username, module.host); // 13's shell passes the name as typed
	record_account_deleted(username);
	delete_invites_of(invites, username);
}

/** The tokens filed under `account` in this module's store (one read). */
function invites_naming(account: string): string[] {
	const tokens: string[] = [];
	const [ok, filed] = read_named(account);
	if (ok && filed !== undefined && type(filed) === "table") {
		for (const [token] of filed) {
			if (type(token) === "string") {
				tokens[tokens.length] = token;
			}
		}
	}
	return tokens;
}

function delete_invites_of(invites: ModInvites | undefined, username: string): void {
	const tokens = invites_naming(username);
	if (tokens.length === 0) {
		return;
	}
	remove_named(username);
	let deleted = 0;
	for (const token of tokens) {
		forget_invite(token);
		if (invites !== undefined && delete_invite(invites, token)) {
			deleted += 1;
		}
	}
	module.log("info", "Account %s was deleted: deleted %d of the %d pending invites made by or for it", username, deleted, tokens.length);
}
