/**
 * What a module may read of SQL storage: core.storagemanager's get_driver,
 * and the connection ("engine") mod_storage_sql shares under
 * "/*\/sql/connections" (util.sql with LuaDBI in 0.12 and 13, util.sqlite3
 * with LuaSQLite3 in 13): /usr/lib/prosody/core/storagemanager.lua,
 * modules/mod_storage_sql.lua, util/sql.lua, util/sqlite3.lua. Both engines
 * have the same select and transaction.
 */

/** core.storagemanager, the part used here. */
export interface StorageManager {
	/** The driver a host's store uses, and its name ("internal", "sql", …): loads the driver when needed. */
	get_driver(this: void, host: string, store: string): LuaMultiReturn<[unknown, string]>;
}

/** mod_storage_sql's `sql` option, normalised as it does it (the database path resolved for SQLite3). */
export interface SqlParams {
	readonly driver: string;
	readonly database: string;
	readonly username?: string;
	readonly password?: string;
	readonly host?: string;
	readonly port?: number;
}

/** One row of a select: its columns in order. */
export type SqlRow = LuaTable<number, string | undefined>;

export interface SqlEngine {
	readonly params: SqlParams;
	/** Runs `f` in a transaction; false and the error when it raised or the database failed (logged by the engine). */
	transaction<R>(f: (this: void) => R): LuaMultiReturn<[true, R] | [false, string]>;
	/** Inside a transaction: the rows of a query, `?` bound in order. Raises on failure. */
	select(sql: string, ...args: (string | number)[]): LuaIterable<SqlRow>;
}

/** util.paths, the part used here. */
export interface PathsLib {
	resolve_relative_path(this: void, parent_path: string, path: string): string;
}

/** util.json, the part used here. */
export interface JsonLib {
	decode(this: void, json: string): LuaMultiReturn<[unknown, string?]>;
}

/** util.time (C): wall-clock time with sub-second precision. */
export interface TimeLib {
	now(this: void): number;
}
