/**
 * A Lua 5.3 state in fengari, and the conversions between JavaScript and
 * Lua values the tests need: plain data goes across by value, stanzas as
 * XML (parsed into ltx elements), and anything else stays in Lua behind a
 * LuaRef handle.
 */
import { lauxlib, lua, lualib, to_luastring, type LuaState as L } from "fengari";
import { Element, parse } from "ltx";

/** A Lua value kept in the registry, for passing back into Lua later. */
export class LuaRef {
	constructor(
		readonly state: LuaState,
		readonly ref: number,
	) {}
}

/** Values that can be pushed into Lua. */
export type ToLua = undefined | null | boolean | number | string | LuaRef | Element | ToLua[] | { [key: string]: ToLua };

export class LuaError extends Error {}

export class LuaState {
	readonly L: L;

	constructor(packagePath: string[]) {
		this.L = lauxlib.luaL_newstate();
		lualib.luaL_openlibs(this.L);
		this.run(`package.path = ... .. ";" .. package.path`, packagePath.join(";"));
	}

	/** Pushes a JavaScript value (elements become plain {name, attr, children} tables). */
	push(value: ToLua): void {
		const L = this.L;
		if (value === undefined || value === null) {
			lua.lua_pushnil(L);
		} else if (typeof value === "boolean") {
			lua.lua_pushboolean(L, value);
		} else if (typeof value === "number") {
			if (Number.isInteger(value)) lua.lua_pushinteger(L, value);
			else lua.lua_pushnumber(L, value);
		} else if (typeof value === "string") {
			lua.lua_pushstring(L, to_luastring(value));
		} else if (value instanceof LuaRef) {
			lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, value.ref);
		} else if (value instanceof Element) {
			lua.lua_createtable(L, 0, 3);
			this.push(value.name);
			lua.lua_setfield(L, -2, to_luastring("name"));
			this.push(value.attrs as { [key: string]: string });
			lua.lua_setfield(L, -2, to_luastring("attr"));
			this.push(value.children as (Element | string)[]);
			lua.lua_setfield(L, -2, to_luastring("children"));
		} else if (Array.isArray(value)) {
			lua.lua_createtable(L, value.length, 0);
			value.forEach((item, i) => {
				this.push(item);
				lua.lua_rawseti(L, -2, i + 1);
			});
		} else {
			lua.lua_createtable(L, 0, 0);
			for (const [key, item] of Object.entries(value)) {
				if (item === undefined) continue;
				this.push(item);
				lua.lua_setfield(L, -2, to_luastring(key));
			}
		}
	}

	/**
	 * Converts the value at `index` to JavaScript. Tables become arrays (when
	 * their keys are 1..n, or they are empty) or objects; a table `{ __xml = "..." }` (how the sim bridge exports a
	 * stanza) becomes an ltx Element.
	 */
	toJs(index: number, depth = 0): unknown {
		const L = this.L;
		const t = lua.lua_type(L, index);
		if (t === lua.LUA_TNIL) return undefined;
		if (t === lua.LUA_TBOOLEAN) return lua.lua_toboolean(L, index);
		if (t === lua.LUA_TNUMBER) return lua.lua_tonumber(L, index);
		if (t === lua.LUA_TSTRING) return lua.lua_tojsstring(L, index);
		if (t !== lua.LUA_TTABLE) return this.refAt(index);
		if (depth > 20) throw new LuaError("table nested too deeply (a cycle?)");
		const abs = lua.lua_absindex(L, index);
		const entries: [unknown, unknown][] = [];
		lua.lua_pushnil(L);
		while (lua.lua_next(L, abs) !== 0) {
			entries.push([this.toJs(-2, depth + 1), this.toJs(-1, depth + 1)]);
			lua.lua_pop(L, 1);
		}
		const xml = entries.find(([k]) => k === "__xml");
		if (xml && entries.length === 1) return parse(xml[1] as string);
		// An empty table is read as an empty list (lists are what tests get back most).
		const isArray = entries.every(([k]) => typeof k === "number") &&
			entries.map(([k]) => k as number).sort((a, b) => a - b).every((k, i) => k === i + 1);
		if (isArray) {
			const out: unknown[] = [];
			for (const [k, v] of entries) out[(k as number) - 1] = v;
			return out;
		}
		const out: Record<string, unknown> = {};
		for (const [k, v] of entries) out[String(k)] = v;
		return out;
	}

	/** Keeps the value at `index` in the registry. */
	refAt(index: number): LuaRef {
		lua.lua_pushvalue(this.L, index);
		return new LuaRef(this, lauxlib.luaL_ref(this.L, lua.LUA_REGISTRYINDEX));
	}

	/**
	 * Runs a chunk of Lua with `args` as its `...`; returns its first result
	 * converted (or as a LuaRef when `asRef`). Lua errors become LuaError
	 * with a traceback.
	 */
	run(code: string, ...args: ToLua[]): unknown {
		return this.exec(code, args, false);
	}

	runRef(code: string, ...args: ToLua[]): LuaRef {
		return this.exec(code, args, true) as LuaRef;
	}

	private exec(code: string, args: ToLua[], asRef: boolean): unknown {
		const L = this.L;
		const top = lua.lua_gettop(L);
		try {
			this.pushTraceback();
			const handler = lua.lua_gettop(L);
			if (lauxlib.luaL_loadbuffer(L, to_luastring(code), null, to_luastring("=(test)")) !== lua.LUA_OK) {
				throw new LuaError(lua.lua_tojsstring(L, -1));
			}
			for (const arg of args) this.push(arg);
			if (lua.lua_pcall(L, args.length, 1, handler) !== lua.LUA_OK) {
				throw new LuaError(lua.lua_tojsstring(L, -1));
			}
			return asRef ? this.refAt(-1) : this.toJs(-1);
		} finally {
			lua.lua_settop(L, top);
		}
	}

	private pushTraceback(): void {
		if (this.traceback === undefined) {
			lua.lua_getglobal(this.L, to_luastring("debug"));
			lua.lua_getfield(this.L, -1, to_luastring("traceback"));
			this.traceback = lauxlib.luaL_ref(this.L, lua.LUA_REGISTRYINDEX);
			lua.lua_pop(this.L, 1);
		}
		lua.lua_rawgeti(this.L, lua.LUA_REGISTRYINDEX, this.traceback);
	}

	private traceback: number | undefined;
}
