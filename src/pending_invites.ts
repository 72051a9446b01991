/**
 * What the server knows of pending invites, in memory, without reading
 * every pending invite while it serves:
 *  - the usernames that account invites made for a username reserve
 *    (XEP-0445 §5): while such an invite is pending (not used, not expired,
 *    not deleted), only that invite may register the name;
 *  - tokens known to be pending, so that such a token is checked even when
 *    its session or address has spent its budget of invalid tokens
 *    (token_limits.ts): an attacker on the same address never locks out
 *    an invitee. Known: the invites made or used in this server since it
 *    started, the bound ones made before, and every one found in storage
 *    since (outside_invites.ts: on SQL storage, within minutes of a start).
 *    (Until then, an invite made before a restart that its invitee
 *    presents from an address over its budget waits for the budget to
 *    refill, one token every few seconds.)
 *
 * mod_invites keeps invites by token, in a store that can only be read
 * whole (about 20 µs per pending invite with SQLite: 2 s at 100 000, during
 * which the server serves nobody). So that read happens once, the first
 * time this version loads, to take over the invites made before (on SQL
 * storage not even then: the invites are taken over page by page); from then
 * on this module keeps its own stores (invite_index_store.ts), written when
 * an invite is made in the server (mod_invites' invite-created event) and
 * read whole only for the reservations (one entry per bound invite) when
 * the module loads. Invites written straight into storage by another tool
 * are found by outside_invites.ts, page by page on SQL storage.
 *
 * A reservation found is confirmed against mod_invites' own record before
 * a registration is refused, so a used, deleted or expired invite frees
 * its name. A store that cannot be read reserves every name (the
 * registration is refused as a temporary failure), never none; it is left
 * alone for RETRY_SECONDS after a failure.
 */
import { bound_username, read_account_invite, read_all_account_invites, reset_target } from "./invite_records";
import { named_accounts, record_void } from "./invite_accounts";
import {
	add_named,
	merge_named,
	INDEX_VERSION,
	read_index_state,
	read_reserved,
	remove_reserved,
	reserved_removal,
	write_index_state,
	write_named,
	write_reserved,
	type ReservedEntry,
} from "./invite_index_store";
import { invite_sql_engine } from "./sql_invite_pages";
import { redact, token_hash } from "./tokens";
import type { InviteRecord } from "./types/mod_invites";

/** After a failed read, how long storage is left alone (every use meanwhile fails closed). */
const RETRY_SECONDS = 10;

/** username → token → expiry, for the pending account invites bound to a username. */
let by_username = new LuaTable<string, LuaTable<string, number>>();
/** token → username: the same reservations, by token. */
let by_token = new LuaTable<string, string>();
/**
 * token → expiry, for the pending invites known to allow registration that
 * were made or used here, or reserve a name.
 */
const pending = new LuaTable<string, number>();
/**
 * token_hash(token) → expiry, for the other pending invites found in
 * storage (the first complete read, the rounds of outside_invites.ts): up
 * to every pending invite, so kept as numbers, not strings (tokens.ts).
 */
const found = new LuaTable<number, number>();
/** Whether the reservations are known (the index was read); until then every name is "unknown". */
let ready = false;
/** A first load on SQL storage whose first round over the stored invites has not ended: every name is "unknown". */
let taking_over = false;
/** When a read of the invite store last failed; nil after a successful one. */
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

function reserve(username: string, token: string, expires: number): void {
	file_under(by_username, username, token, expires);
	by_token.set(token, username);
}

/** The local accounts an invite names, as one list (its creators, the account it resets). */
function accounts_named(record: InviteRecord): string[] {
	const named = named_accounts(record, module.host);
	const accounts: string[] = [];
	for (const creator of named.creators) {
		accounts[accounts.length] = creator;
	}
	if (named.target !== undefined) {
		accounts[accounts.length] = named.target;
	}
	return accounts;
}

function usable_record(token: unknown, record: unknown, now: number): record is InviteRecord {
	return type(token) === "string" && type(record) === "table" && type((record as InviteRecord).expires) === "number" && (record as InviteRecord).expires > now;
}

/**
 * Reads every pending invite (mod_invites' whole store) and files what it
 * finds: at the first load of this version, and every
 * `invite_reservation_refresh` seconds when that is set and storage is not
 * SQL (outside_invites.ts). What was not known
 * is written to this module's stores. False (logged) when storage failed.
 */
function scan(first: boolean): boolean {
	const now = os.time();
	const started = os.clock();
	const records = read_all_account_invites();
	if (records === undefined) {
		failed_at = now;
		return false;
	}
	// Built aside and swapped in whole: a record that cannot be read is skipped.
	const names = new LuaTable<string, LuaTable<string, number>>();
	const tokens_to_names = new LuaTable<string, string>();
	const new_reserved = new LuaTable<string, ReservedEntry>();
	const named = new LuaTable<string, LuaTable<string, number>>();
	let count = 0;
	for (const [token, record] of records) {
		if (usable_record(token, record, now)) {
			count += 1;
			const known = is_known_invite(token);
			const username = reserved_username(record, module.host);
			if (username === undefined) {
				note_found(token, record.expires);
			} else {
				pending.set(token, record.expires);
				file_under(names, username, token, record.expires);
				tokens_to_names.set(token, username);
				if (by_token.get(token) === undefined) {
					new_reserved.set(token, { username, expires: record.expires });
				}
			}
			if (first || !known) {
				for (const account of accounts_named(record)) {
					file_under(named, account, token, record.expires);
				}
			}
		}
	}
	if (next(new_reserved)[0] !== undefined && !write_reserved(new_reserved)) {
		failed_at = now;
		return false;
	}
	if (first && ((next(named)[0] !== undefined && !write_named(named)) || !write_index_state({ version: INDEX_VERSION, scanned_at: now }))) {
		failed_at = now;
		return false;
	}
	if (!first && next(named)[0] !== undefined) {
		merge_named(named);
	}
	by_username = names;
	by_token = tokens_to_names;
	failed_at = undefined;
	// At the first load, once: the admin sees what it cost.
	module.log(first ? "info" : "debug", "Read all %d pending invites in %.0f ms", count, (os.clock() - started) * 1000);
	return true;
}

/** The reservations from this module's own store (one entry per bound invite). Expired ones are pruned. */
function load_reserved(): boolean {
	const now = os.time();
	const [ok, entries] = read_reserved();
	if (!ok || entries === undefined) {
		failed_at = now;
		return false;
	}
	const expired = new LuaTable<string, ReservedEntry>();
	for (const [token, entry] of entries) {
		if (type(token) === "string" && type(entry) === "table" && type(entry.username) === "string" && type(entry.expires) === "number") {
			if (entry.expires > now) {
				reserve(entry.username, token, entry.expires);
				pending.set(token, entry.expires);
			} else {
				expired.set(token, reserved_removal());
			}
		}
	}
	if (next(expired)[0] !== undefined) {
		write_reserved(expired);
	}
	failed_at = undefined;
	return true;
}

/**
 * When the module loads, and from a timer until it succeeds: the
 * reservations are read (the first time: every pending invite, once).
 * False when storage failed (logged); every name is "unknown" meanwhile.
 */
export function load_invite_index(): boolean {
	const [ok, state] = read_index_state();
	if (!ok) {
		failed_at = os.time();
		return false;
	}
	if (state === undefined && invite_sql_engine() !== undefined) {
		// On SQL storage the invites made before are taken over page by page
		// (outside_invites.ts), never in one blocking read; until its first
		// round ends, every name is "unknown" (a registration that must
		// check one is asked to try again later).
		taking_over = true;
		module.log("info", "Taking over the pending invites made before this version, page by page");
		ready = load_reserved();
		return ready;
	}
	ready = state === undefined ? scan(true) : load_reserved();
	return ready;
}

/**
 * The first round over the stored invites ended (outside_invites.ts): what
 * a first load on SQL storage takes over is complete. False when the
 * index state could not be written (tried again after the next round).
 */
export function round_completed(): boolean {
	if (!taking_over) {
		return true;
	}
	if (!write_index_state({ version: INDEX_VERSION, scanned_at: os.time() })) {
		return false;
	}
	taking_over = false;
	module.log("info", "Took over the pending invites made before this version");
	return true;
}

/** How often expired invites are dropped from memory. */
const SWEEP_SECONDS = 3600;

/** Deletes the entries of `expiries` (key → expiry) that have expired (collected first: no deletion while iterating); how many. */
function drop_expired<K extends AnyNotNil>(expiries: LuaTable<K, number>, now: number): number {
	const expired: K[] = [];
	for (const [key, expires] of expiries) {
		if (expires <= now) {
			expired[expired.length] = key;
		}
	}
	for (const key of expired) {
		expiries.delete(key);
	}
	return expired.length;
}

/**
 * Drops expired invites from memory (they are refused anyway). A walk of
 * the tables in memory, no storage: about 50 ns per invite, 5 ms at 100 000
 * pending invites, once an hour.
 */
function sweep_expired(): void {
	const now = os.time();
	const dropped = drop_expired(pending, now) + drop_expired(found, now);
	const released: [string, string][] = [];
	for (const [username, tokens] of by_username) {
		for (const [token, expires] of tokens) {
			if (expires <= now) {
				released[released.length] = [username, token];
			}
		}
	}
	for (const [username, token] of released) {
		by_token.delete(token);
		unfile(by_username, username, token);
	}
	if (dropped > 0) {
		module.log("debug", "Dropped %d expired invites from memory", dropped);
	}
}

/** The timers: the load retried until it succeeds, and the hourly sweep. */
export function start_index_timers(): void {
	module.add_timer(SWEEP_SECONDS, () => {
		const [ok, err] = pcall(sweep_expired);
		if (!ok) {
			module.log("error", "Could not drop expired invites from memory: %s", err);
		}
		return SWEEP_SECONDS;
	});
	if (!ready) {
		module.add_timer(RETRY_SECONDS, () => {
			const [ok, loaded] = pcall(load_invite_index);
			if (!ok) {
				module.log("error", "Could not read the pending invites: %s", loaded);
			}
			return ok && loaded ? undefined : RETRY_SECONDS;
		});
	}
}

/**
 * Reads every pending invite again (outside_invites.ts, when
 * `invite_reservation_refresh` is set and storage is not SQL). Once the
 * index is loaded; false when storage failed (logged).
 */
export function read_every_pending_invite(): boolean {
	return ready && scan(false);
}

/** Whether the reservations are loaded (until then, every name is "unknown"). */
export function index_ready(): boolean {
	return ready;
}

/** Whether `token` is in memory as a pending invite's (expired ones until the hourly sweep). */
export function is_known_invite(token: string): boolean {
	return pending.get(token) !== undefined || found.get(token_hash(token)) !== undefined;
}

/** An invite found in storage that reserves nothing: remembered by its hash. */
function note_found(token: string, expires: number): void {
	found.set(token_hash(token), expires);
}

/**
 * Invites found in storage that this server did not see being made
 * (written by another tool, or made before a restart), filed one at a
 * time as invite-created files a new one; what must be written is
 * gathered in a batch, written once for all of them (write_found_batch).
 */
export interface FoundBatch {
	readonly reserved: LuaTable<string, ReservedEntry>;
	readonly named: LuaTable<string, LuaTable<string, number>>;
}

export function new_found_batch(): FoundBatch {
	return { reserved: new LuaTable(), named: new LuaTable() };
}

/**
 * Files one invite found in storage: its token (the key) and its record,
 * unchecked. False when the record is no usable pending invite (expired,
 * not for registration, malformed): it needs no second look.
 */
export function file_found_invite(batch: FoundBatch, token: string, record: unknown): boolean {
	const now = os.time();
	if (!usable_record(token, record, now) || record.token !== token || record.allow_registration !== true) {
		return false;
	}
	if (!is_known_invite(token)) {
		const username = reserved_username(record, module.host);
		if (username === undefined) {
			note_found(token, record.expires);
		} else {
			pending.set(token, record.expires);
			reserve(username, token, record.expires);
			batch.reserved.set(token, { username, expires: record.expires });
			module.log("debug", "Invite %s written by another process reserves %s", redact(token), username);
		}
		for (const account of accounts_named(record)) {
			file_under(batch.named, account, token, record.expires);
		}
	}
	return true;
}

/** Writes what a batch of found invites needs in this module's stores: one call per store. */
export function write_found_batch(batch: FoundBatch): void {
	if (next(batch.reserved)[0] !== undefined) {
		write_reserved(batch.reserved);
	}
	if (next(batch.named)[0] !== undefined) {
		merge_named(batch.named);
	}
}

/** invite-created: an invite made in this server is pending, and reserves its username, at once. */
export function add_pending_invite(record: InviteRecord): void {
	if (record.allow_registration !== true || type(record.token) !== "string" || type(record.expires) !== "number") {
		return; // a contact invite without registration is not in the host store
	}
	const token = record.token;
	pending.set(token, record.expires);
	const username = reserved_username(record, module.host);
	if (username !== undefined) {
		reserve(username, token, record.expires);
		const entry = new LuaTable<string, ReservedEntry>();
		entry.set(token, { username, expires: record.expires });
		write_reserved(entry);
	}
	const accounts = accounts_named(record);
	if (accounts.length > 0) {
		add_named(accounts, token, record.expires);
	}
}

/** The invite was used or deleted: it is no longer pending, and no longer reserves its name. */
export function forget_invite(token: string): void {
	pending.delete(token);
	found.delete(token_hash(token));
	const username = by_token.get(token);
	if (username !== undefined) {
		release_reservation(username, token);
	}
}

function release_reservation(username: string, token: string): void {
	by_token.delete(token);
	unfile(by_username, username, token);
	remove_reserved(token);
}

/** The username `token`'s invite reserves, as far as is known without storage (for pre-filled forms). */
export function reserved_by_token(token: string): string | undefined {
	return by_token.get(token);
}

/** Whether `token` is known, without storage, to be a pending invite's (used or deleted ones may linger until their expiry). */
export function is_pending_token(token: string): boolean {
	const expires = pending.get(token) ?? found.get(token_hash(token));
	return expires !== undefined && expires > os.time();
}

export type Reservation = "free" | "reserved" | "unknown";

/**
 * Whether a pending invite was made for `username` ("reserved"), so that
 * no other registration may take it; "unknown" when storage could not tell.
 */
export function check_reservation(username: string): Reservation {
	const now = os.time();
	if (!ready || taking_over || (failed_at !== undefined && now - failed_at < RETRY_SECONDS)) {
		return "unknown";
	}
	const tokens = by_username.get(username);
	if (tokens === undefined) {
		return "free";
	}
	const released: string[] = [];
	let result: Reservation = "free";
	for (const [token, expires] of tokens) {
		if (expires > now) {
			// Confirmed against storage: the invite may have been deleted or used meanwhile.
			const [record, problem] = read_account_invite(token);
			if (record !== undefined && record.expires > now) {
				// An invite whose creator's account no longer stands reserves nothing.
				const void_problem = record_void(record, module.host, true);
				if (void_problem === undefined) {
					module.log("debug", "Username %s is reserved by invite %s", username, redact(token));
					result = "reserved";
					break;
				}
				if (void_problem.reason === "unknown") {
					result = "unknown";
					break;
				}
			} else if (problem === "internal-error") {
				failed_at = now;
				result = "unknown";
				break;
			}
		}
		released[released.length] = token;
	}
	for (const token of released) {
		release_reservation(username, token);
	}
	return result;
}
