/**
 * Lua helpers the standard typings (lua-types) cannot express.
 */

/**
 * `pcall` for functions that return several values:
 * `const [ok, invite, err] = protected_call(invites.get, token)` compiles to
 * `local ok, invite, err = pcall(invites.get, token)`.
 * @customName pcall
 */
declare function protected_call<A extends any[], R extends any[]>(
	f: (this: void, ...args: A) => LuaMultiReturn<R>,
	...args: A
): LuaMultiReturn<[true, ...R] | [false, string]>;

/**
 * Lua's `package` table (a reserved word in TypeScript's strict mode):
 * `lua_package.loaded` compiles to `package.loaded`.
 * @customName package
 */
declare const lua_package: {
	/** Loaded modules by name (in 13, both "util.x" and "prosody.util.x" answer). */
	readonly loaded: { readonly [name: string]: unknown };
};
