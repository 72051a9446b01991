/**
 * This module's own stores: what it needs to know about pending invites,
 * kept so that it never has to read every pending invite while the server
 * serves (mod_invites keeps invites by token only, and its store can only
 * be read whole).
 *  - "invites_register_reserved" (host map, token → { username, expires }):
 *    the account invites bound to a username, written when an invite is
 *    made in the server; read whole when the module loads (its size is the
 *    number of bound invites, not of all pending invites).
 *  - "invites_register_named" (host map, account → token → expires): the
 *    pending invites that name a local account (its invites, the reset
 *    invites for it), read by account when the account is deleted.
 *  - "invites_register_index" (host keyval): when mod_invites' store was
 *    last read whole (the first load of this version does it once, to take
 *    over the invites made before).
 * Entries can outlive their invite (used, deleted, expired): every use
 * confirms against mod_invites' own record first, and prunes.
 * Every call returns false or nil when storage failed (logged), never raises.
 */
import { logged } from "./protected_storage";
import type { KeyvalStore, MapStore } from "./types/storage";

export interface ReservedEntry {
	readonly username: string;
	readonly expires: number;
}

export interface IndexState {
	/** Version of these stores' layout. */
	readonly version: number;
	/** os.time() of the last complete read of mod_invites' store. */
	readonly scanned_at: number;
}

export const INDEX_VERSION = 1;

// Opened on first use: prosodyctl loads the module without storage.
let reserved_map: MapStore<ReservedEntry> | undefined;
let reserved_all: KeyvalStore<LuaTable<string, ReservedEntry>> | undefined;
let named_map: MapStore<LuaTable<string, number>> | undefined;
let index_state: KeyvalStore<IndexState> | undefined;

function reserved_store(): MapStore<ReservedEntry> {
	reserved_map ??= module.open_store<ReservedEntry>("invites_register_reserved", "map");
	return reserved_map;
}

function named_store(): MapStore<LuaTable<string, number>> {
	named_map ??= module.open_store<LuaTable<string, number>>("invites_register_named", "map");
	return named_map;
}

function state_store(): KeyvalStore<IndexState> {
	index_state ??= module.open_store<IndexState>("invites_register_index");
	return index_state;
}


/** All reserved entries; ok false when storage failed. */
export function read_reserved(): LuaMultiReturn<[boolean, LuaTable<string, ReservedEntry> | undefined]> {
	reserved_all ??= module.open_store<LuaTable<string, ReservedEntry>>("invites_register_reserved");
	const store = reserved_all;
	const [ok, entries] = logged("read the reserved usernames", () => store.get(undefined));
	return $multi(ok, ok ? (entries ?? new LuaTable()) : undefined);
}

/** The value that removes a key in write_reserved. */
export function reserved_removal(): ReservedEntry {
	return reserved_store().remove;
}

/** Writes reserved entries by token in one call (an entry of reserved_removal() removes its token). */
export function write_reserved(entries: LuaTable<string, ReservedEntry>): boolean {
	const store = reserved_store();
	const [ok] = logged("write the reserved usernames", () => store.set_keys(undefined, entries));
	return ok;
}

export function remove_reserved(token: string): boolean {
	const store = reserved_store();
	const [ok] = logged("remove a reserved username", () => store.set(undefined, token, undefined));
	return ok;
}

/** The tokens filed under `account` (token → expiry); ok false when storage failed. */
export function read_named(account: string): LuaMultiReturn<[boolean, LuaTable<string, number> | undefined]> {
	const store = named_store();
	return logged("read the invites naming an account", () => store.get(undefined, account));
}

/** Files `token` under each of `accounts`. */
export function add_named(accounts: readonly string[], token: string, expires: number): void {
	const additions = new LuaTable<string, LuaTable<string, number>>();
	for (const account of accounts) {
		const tokens = new LuaTable<string, number>();
		tokens.set(token, expires);
		additions.set(account, tokens);
	}
	merge_named(additions);
}

/**
 * Adds tokens to the sets of several accounts (account → token → expiry):
 * each set read, then all written in one call. Expired invites are dropped
 * on the way: an account's set holds its pending invites.
 */
export function merge_named(additions: LuaTable<string, LuaTable<string, number>>): void {
	const store = named_store();
	const now = os.time();
	const merged = new LuaTable<string, LuaTable<string, number>>();
	for (const [account, added] of additions) {
		const [ok, filed] = read_named(account);
		if (ok) {
			const tokens = new LuaTable<string, number>();
			if (filed !== undefined && type(filed) === "table") {
				for (const [filed_token, filed_expires] of filed) {
					if (type(filed_expires) === "number" && filed_expires > now) {
						tokens.set(filed_token, filed_expires);
					}
				}
			}
			for (const [token, expires] of added) {
				tokens.set(token, expires);
			}
			merged.set(account, tokens);
		}
	}
	if (next(merged)[0] !== undefined) {
		logged("file invites under their accounts", () => store.set_keys(undefined, merged));
	}
}

/** Replaces the whole sets of several accounts in one call (the first complete read). */
export function write_named(accounts: LuaTable<string, LuaTable<string, number>>): boolean {
	const store = named_store();
	const [ok] = logged("write the invites naming accounts", () => store.set_keys(undefined, accounts));
	return ok;
}

export function remove_named(account: string): void {
	const store = named_store();
	logged("forget the invites naming an account", () => store.set(undefined, account, undefined));
}

/** ok false when storage failed; state nil before the first complete read. */
export function read_index_state(): LuaMultiReturn<[boolean, IndexState | undefined]> {
	const store = state_store();
	const [ok, state] = logged("read the state of the invite index", () => store.get(undefined));
	const current = state !== undefined && type(state) === "table" && state.version === INDEX_VERSION ? state : undefined;
	return $multi(ok, current);
}

export function write_index_state(state: IndexState): boolean {
	const store = state_store();
	const [ok] = logged("write the state of the invite index", () => store.set(undefined, state));
	return ok;
}
