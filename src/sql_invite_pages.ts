/**
 * The tokens of mod_invites' invites, listed a page at a time straight
 * from the table of mod_storage_sql: how invites that another tool wrote
 * into the database are found without a read of every pending invite in
 * one go (Prosody's storage API can only read that store whole).
 *
 * The rows of mod_invites' host store ("invite_token", a map without a
 * user) are ("host", "user" = '', "store" = 'invite_token', "key" = the
 * token, "type", "value"); mod_storage_sql's index on (host, user, store,
 * key) makes a page after a given token one index range, in SQLite,
 * PostgreSQL and MySQL alike. The connection is mod_storage_sql's own
 * (shared by it under "/*\/sql/connections"), so nothing is opened twice.
 */
import { prosody_require } from "./prosody_require";
import type { SqlEngine, SqlParams } from "./types/sql";

const json = prosody_require("util.json");
const paths = prosody_require("util.paths");
const storagemanager = prosody_require("core.storagemanager");

const STORE = "invite_token";

/** mod_storage_sql's normalize_params(), which its connections are keyed by. */
function configured_params(): SqlParams | undefined {
	const given = module.get_option("sql", { driver: "SQLite3" });
	if (type(given) !== "table") {
		return undefined;
	}
	const params = given as Partial<SqlParams>;
	if (type(params.driver) !== "string") {
		return undefined;
	}
	let database = params.database;
	if (params.driver === "SQLite3" && database !== ":memory:") {
		database = paths.resolve_relative_path(prosody.paths.data ?? ".", database ?? "prosody.sqlite");
	}
	if (type(database) !== "string") {
		return undefined;
	}
	return { driver: params.driver as string, database: database as string, username: params.username, password: params.password, host: params.host, port: params.port };
}

function same_database(a: SqlParams, b: SqlParams): boolean {
	return a.driver === b.driver && a.database === b.database && a.host === b.host && a.port === b.port && a.username === b.username;
}

/**
 * mod_storage_sql's connection to the database that holds this host's
 * invites, or nil when they are not in SQL storage (or the driver has not
 * connected yet: asked again later).
 */
export function invite_sql_engine(): SqlEngine | undefined {
	const [driver, driver_name] = storagemanager.get_driver(module.host, STORE);
	if (driver === undefined || driver_name !== "sql") {
		return undefined;
	}
	const params = configured_params();
	if (params === undefined) {
		return undefined;
	}
	const engines = module.shared<LuaTable<string, SqlEngine>>("/*/sql/connections");
	for (const [, engine] of engines) {
		if (type(engine) === "table" && type(engine.params) === "table" && same_database(engine.params, params)) {
			return engine;
		}
	}
	return undefined;
}

// SQL's own order of the keys (the database's collation) in both, so that
// "after" means the same as the index.
const TOKENS_SQL = `SELECT "key" FROM "prosody" WHERE "host"=? AND "user"=? AND "store"=? AND "key">? ORDER BY "key" LIMIT %d`;
const RECORDS_SQL = `SELECT "key","type","value" FROM "prosody" WHERE "host"=? AND "user"=? AND "store"=? AND "key">? AND "key"<=? ORDER BY "key" LIMIT %d`;

/** Runs `f` in a transaction of `engine`: its result, or nil and the error. */
function in_transaction<T>(engine: SqlEngine, f: (this: void) => T): LuaMultiReturn<[T] | [undefined, string]> {
	const [ok, result] = engine.transaction(f);
	if (!ok) {
		return $multi(undefined, tostring(result));
	}
	return $multi(result as T);
}

/**
 * The tokens of the stored invites that come after `after` (in the
 * database's order), at most `limit`: only the keys, a few bytes a row
 * (1 000 rows: about 1 ms with SQLite, 3 ms with PostgreSQL on loopback).
 * Nil and the error when the database failed.
 */
export function list_invite_tokens(engine: SqlEngine, after: string, limit: number): LuaMultiReturn<[string[]] | [undefined, string]> {
	const sql = string.format(TOKENS_SQL, limit);
	return in_transaction(engine, () => {
		const tokens: string[] = [];
		for (const row of engine.select(sql, module.host, "", STORE, after)) {
			const token = row.get(1);
			if (token !== undefined) {
				tokens[tokens.length] = token;
			}
		}
		return tokens;
	});
}

/**
 * The stored invites with tokens after `after` up to `last`, in order, at
 * most `limit`, for `take(token)` to decode (`decode()`) or skip; `take`
 * returns false to stop. One query (1 000 rows: about 7 ms with SQLite,
 * 8 ms with PostgreSQL, more on a loaded machine: hence the limit);
 * decoding costs about 13 µs an invite. Nil and the error when the
 * database failed.
 */
export function read_invite_range(
	engine: SqlEngine,
	after: string,
	last: string,
	limit: number,
	take: (this: void, token: string, decode: (this: void) => unknown) => boolean,
): LuaMultiReturn<[true] | [undefined, string]> {
	const sql = string.format(RECORDS_SQL, limit);
	return in_transaction(engine, () => {
		for (const row of engine.select(sql, module.host, "", STORE, after, last)) {
			const [token, value_type, value] = [row.get(1), row.get(2), row.get(3)];
			if (token !== undefined && !take(token, () => decode(value_type, value))) {
				break;
			}
		}
		return true as const;
	});
}

function decode(value_type: string | undefined, value: string | undefined): unknown {
	if (value_type !== "json" || value === undefined) {
		return undefined; // an invite record is a table, which mod_storage_sql stores as JSON
	}
	const [decoded] = json.decode(value);
	return decoded;
}
