/**
 * Storage opened with `module:open_store(name, type)`
 * (/usr/lib/prosody/core/storagemanager.lua). With SQL storage any call
 * may take a while, and in 13 may yield to other sessions.
 */

type Stored = LuaMultiReturn<[true] | [undefined, string]>;

/** `open_store(name)` / `open_store(name, "keyval")`: one value per user (nil user: the host). */
export interface KeyvalStore<T = unknown> {
	get(username: string | undefined): LuaMultiReturn<[T | undefined, string?]>;
	set(username: string | undefined, data: T | undefined): Stored;
}

/** `open_store(name, "map")`: a map of keys to values per user (nil user: the host). */
export interface MapStore<T = unknown> {
	get(username: string | undefined, key: string): LuaMultiReturn<[T | undefined, string?]>;
	/** Setting nil deletes the key. */
	set(username: string | undefined, key: string, value: T | undefined): Stored;
	/** Several keys in one call; a key set to `remove` is deleted. */
	set_keys(username: string | undefined, keys: LuaTable<string, T>): Stored;
	/** The sentinel `set_keys` takes for "delete this key" (every driver and the map shim have one). */
	readonly remove: T;
}
