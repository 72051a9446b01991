// The part of fengari's API (a Lua 5.3 VM in JavaScript) the tests use.
// fengari ships no TypeScript declarations; names follow the Lua C API.
declare module "fengari" {
	export type LuaState = { readonly __luaState: unique symbol };
	export type LuaString = Uint8Array;

	export const lua: {
		LUA_OK: number;
		LUA_TNIL: number;
		LUA_TBOOLEAN: number;
		LUA_TNUMBER: number;
		LUA_TSTRING: number;
		LUA_TTABLE: number;
		LUA_TFUNCTION: number;
		LUA_REGISTRYINDEX: number;
		LUA_MULTRET: number;
		lua_gettop(L: LuaState): number;
		lua_settop(L: LuaState, index: number): void;
		lua_pop(L: LuaState, n: number): void;
		lua_pushvalue(L: LuaState, index: number): void;
		lua_pushnil(L: LuaState): void;
		lua_pushboolean(L: LuaState, b: boolean): void;
		lua_pushinteger(L: LuaState, n: number): void;
		lua_pushnumber(L: LuaState, n: number): void;
		lua_pushstring(L: LuaState, s: LuaString): void;
		lua_createtable(L: LuaState, narr: number, nrec: number): void;
		lua_setfield(L: LuaState, index: number, key: LuaString): void;
		lua_getfield(L: LuaState, index: number, key: LuaString): number;
		lua_rawseti(L: LuaState, index: number, i: number): void;
		lua_rawgeti(L: LuaState, index: number, i: number): number;
		lua_next(L: LuaState, index: number): number;
		lua_type(L: LuaState, index: number): number;
		lua_toboolean(L: LuaState, index: number): boolean;
		lua_tonumber(L: LuaState, index: number): number;
		lua_isinteger(L: LuaState, index: number): boolean;
		lua_tojsstring(L: LuaState, index: number): string;
		lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
		lua_getglobal(L: LuaState, name: LuaString): number;
		lua_setglobal(L: LuaState, name: LuaString): void;
		lua_absindex(L: LuaState, index: number): number;
	};
	export const lauxlib: {
		luaL_newstate(): LuaState;
		luaL_loadstring(L: LuaState, code: LuaString): number;
		luaL_loadbuffer(L: LuaState, code: LuaString, size: number | null, name: LuaString): number;
		luaL_ref(L: LuaState, t: number): number;
		luaL_unref(L: LuaState, t: number, ref: number): void;
		luaL_traceback(L: LuaState, L1: LuaState, msg: LuaString | null, level: number): void;
	};
	export const lualib: {
		luaL_openlibs(L: LuaState): void;
	};
	export function to_luastring(s: string): LuaString;
	export function to_jsstring(s: LuaString): string;
}
