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
