/**
 * The pending invites that allow registration, in memory:
 *  - the usernames they reserve (XEP-0445 §5): while an account invite made
 *    for a username is pending (not used, not expired, not deleted), only
 *    that invite may register the name;
 *  - their tokens, so that a token known to be pending is checked even
 *    when its session or address has spent its budget of invalid tokens
 *    (token_limits.ts): an attacker on the same address never locks out
 *    an invitee;
 *  - the local accounts they name (their creator, the account a reset
 *    invite resets: invite_accounts.ts), so that the invites of a deleted
 *    account are found without reading every pending invite.
 *
 * Registration must not read every pending invite, so they are read from
 * storage when the module loads, and again when older than
 * `invite_reservation_refresh` seconds at the next use (that is how
 * invites written by another process, such as prosodyctl, are seen); kept
 * current by mod_invites' invite-created event and by the invites
 * registrations use. A reservation found is confirmed against storage
 * before a registration is refused, so a deleted invite frees its name. A
 * store that cannot be read reserves every name (the registration is
 * refused as a temporary failure), never none.
 */
import { bound_username, read_account_invite, read_all_account_invites, reset_target } from "./invite_records";
import { check_named_accounts, named_accounts, names_accounts } from "./invite_accounts";
import { positive_option } from "./options";
import { redact } from "./tokens";
import type { InviteRecord } from "./types/mod_invites";

const refresh_interval = positive_option("invite_reservation_refresh", 60);
/** After a failed read, how long storage is left alone (every use meanwhile fails closed). */
const RETRY_SECONDS = 10;

/** username → token → expiry, for the pending account invites bound to a username. */
let by_username = new LuaTable<string, LuaTable<string, number>>();
/** token → username: the same reservations, by token. */
let by_token = new LuaTable<string, string>();
/** token → expiry, for every pending invite that allows registration. */
let pending = new LuaTable<string, number>();
/** account → token → true: the pending invites that name a local account (made by it, or resetting it). */
let by_account = new LuaTable<string, LuaTable<string, true>>();
/** token → the accounts it is filed under in by_account. */
let accounts_by_token = new LuaTable<string, string[]>();
/** When the reservations were last read from storage; nil until a read succeeds. */
let read_at: number | undefined;
/** When a read last failed; nil after a successful one. */
let failed_at: number | undefined;

/** The username a pending account invite reserves, or nil (open invites, resets, contact invites). */
function reserved_username(record: InviteRecord, host: string): string | undefined {
	if (record.type !== "register" || reset_target(record) !== undefined) {
		return undefined; // a reset invite's account exists already
	}
	return bound_username(record, host);
}

/** index[key][token] = value, making index[key] when missing. */
function file_under<V>(index: LuaTable<string, LuaTable<string, V>>, key: string, token: string, value: V): void {
	let tokens = index.get(key);
	if (tokens === undefined) {
		tokens = new LuaTable();
		index.set(key, tokens);
	}
	tokens.set(token, value);
}

/** Removes index[key][token], and index[key] once empty. */
function unfile<V>(index: LuaTable<string, LuaTable<string, V>>, key: string, token: string): void {
	const tokens = index.get(key);
	if (tokens !== undefined) {
		tokens.delete(token);
		if (next(tokens)[0] === undefined) {
			index.delete(key);
		}
	}
}

function add(
	names: LuaTable<string, LuaTable<string, number>>,
	tokens_to_names: LuaTable<string, string>,
	username: string,
	token: string,
	expires: number,
): void {
	file_under(names, username, token, expires);
	tokens_to_names.set(token, username);
}

/** Files `record` under the accounts it names. */
function add_named(accounts: LuaTable<string, LuaTable<string, true>>, accounts_of: LuaTable<string, string[]>, token: string, record: InviteRecord): void {
	const named = named_accounts(record, module.host);
	const names: string[] = [];
	for (const creator of named.creators) {
		names[names.length] = creator;
	}
	if (named.target !== undefined) {
		names[names.length] = named.target;
	}
	if (names.length === 0) {
		return;
	}
	for (const account of names) {
		file_under(accounts, account, token, true);
	}
	accounts_of.set(token, names);
}

/** Reads every pending account invite from storage. False (logged) when storage failed. */
export function load_pending_invites(): boolean {
	const now = os.time();
	const records = read_all_account_invites();
	if (records === undefined) {
		read_at = undefined;
		failed_at = now;
		return false;
	}
	// Built aside and swapped in whole: a record that cannot be read is skipped.
	const names = new LuaTable<string, LuaTable<string, number>>();
	const tokens_to_names = new LuaTable<string, string>();
	const tokens = new LuaTable<string, number>();
	const accounts = new LuaTable<string, LuaTable<string, true>>();
	const accounts_of = new LuaTable<string, string[]>();
	for (const [token, record] of records) {
		if (type(token) === "string" && type(record) === "table" && type(record.expires) === "number" && record.expires > now) {
			tokens.set(token, record.expires);
			const username = reserved_username(record, module.host);
			if (username !== undefined) {
				add(names, tokens_to_names, username, token, record.expires);
			}
			add_named(accounts, accounts_of, token, record);
		}
	}
	by_username = names;
	by_token = tokens_to_names;
	pending = tokens;
	by_account = accounts;
	accounts_by_token = accounts_of;
	read_at = now;
	failed_at = undefined;
	return true;
}

/** invite-created: an invite made in this server is pending, and reserves its username, at once. */
export function add_pending_invite(record: InviteRecord): void {
	if (record.allow_registration !== true || type(record.token) !== "string" || type(record.expires) !== "number") {
		return; // a contact invite without registration is not in the host store
	}
	pending.set(record.token, record.expires);
	const username = reserved_username(record, module.host);
	if (username !== undefined) {
		add(by_username, by_token, username, record.token, record.expires);
	}
	add_named(by_account, accounts_by_token, record.token, record);
}

/** The invite was used or deleted: it is no longer pending, and no longer reserves its name or names an account. */
export function forget_invite(token: string): void {
	pending.delete(token);
	release_reservation(token);
	const accounts = accounts_by_token.get(token);
	if (accounts !== undefined) {
		accounts_by_token.delete(token);
		for (const account of accounts) {
			unfile(by_account, account, token);
		}
	}
}

/**
 * The tokens of the pending invites known to name local account `account`
 * (made by it, or resetting it): a copy, safe to forget them while walking it.
 */
export function invites_naming(account: string): string[] {
	const tokens: string[] = [];
	const filed = by_account.get(account);
	if (filed !== undefined) {
		for (const [token] of filed) {
			tokens[tokens.length] = token;
		}
	}
	return tokens;
}

function release_reservation(token: string): void {
	const username = by_token.get(token);
	if (username === undefined) {
		return;
	}
	by_token.delete(token);
	unfile(by_username, username, token);
}

/**
 * Re-reads the pending invites once they are older than the refresh
 * interval. False when storage failed; then storage is left alone for
 * RETRY_SECONDS (a store that is down is not read again per request).
 */
function fresh(): boolean {
	const now = os.time();
	if (read_at !== undefined && now - read_at < refresh_interval) {
		return true;
	}
	if (failed_at !== undefined && now - failed_at < RETRY_SECONDS) {
		return false;
	}
	return load_pending_invites();
}

/** The username `token`'s invite reserves, as far as the reservations know (for pre-filled forms). */
export function reserved_by_token(token: string): string | undefined {
	fresh();
	return by_token.get(token);
}

/** Whether `token` is, as far as is known without storage, a pending invite's (used or deleted ones may linger until the next read). */
export function is_pending_token(token: string): boolean {
	fresh();
	const expires = pending.get(token);
	return expires !== undefined && expires > os.time();
}

export type Reservation = "free" | "reserved" | "unknown";

/**
 * Whether a pending invite was made for `username` ("reserved"), so that
 * no other registration may take it; "unknown" when storage could not tell.
 */
export function check_reservation(username: string): Reservation {
	if (!fresh()) {
		return "unknown";
	}
	const tokens = by_username.get(username);
	if (tokens === undefined) {
		return "free";
	}
	const now = os.time();
	for (const [token, expires] of tokens) {
		if (expires > now) {
			// Confirmed against storage: the invite may have been deleted or used meanwhile.
			const [record, problem] = read_account_invite(token);
			if (record !== undefined && record.expires > now) {
				// An invite whose creator's account no longer stands reserves nothing.
				const named = named_accounts(record, module.host);
				const void_problem = names_accounts(named) ? check_named_accounts(named, record.created_at, module.host, true) : undefined;
				if (void_problem === undefined) {
					module.log("debug", "Username %s is reserved by invite %s", username, redact(token));
					return "reserved";
				}
				if (void_problem.reason === "unknown") {
					return "unknown";
				}
			} else if (problem === "internal-error") {
				return "unknown";
			}
		}
		release_reservation(token);
	}
	return "free";
}
