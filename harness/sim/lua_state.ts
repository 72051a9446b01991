/**
 * A Lua 5.3 state in fengari, and the conversions between JavaScript and
 * Lua values the tests need: plain data goes across by value, stanzas as
 * XML (parsed into ltx elements), and anything else stays in Lua behind a
 * LuaRef handle.
 */
import { readFileSync } from "node:fs";
import type { LuaState as L, LuaString } from "fengari";
import { Element, parse } from "ltx";
import { makeSharedLua } from "./shared_lua.mjs";

/**
 * A compiled function in fengari (src/lfunc.js), what closures run. Once
 * compiled, it is only read (the VM copies constants out, never writes
 * them), except for `cache`, the last closure made of it; `id` numbers
 * the objects of a state.
 */
interface Proto {
	id: number;
	cache: unknown;
	p: Proto[];
	upvalues: unknown[];
}
interface LClosure {
	p: Proto;
	nupvalues: number;
}


/**
 * fengari, the parts of its internals the chunk cache needs, and the
 * compiled Lua files (see below): what shared_lua.mjs makes, once per jest
 * worker (spec/support/jest_environment.mjs) or here.
 */
interface SharedLua {
	fengari: typeof import("fengari");
	lfunc: {
		Proto: new (L: L) => Proto;
		luaF_newLclosure(L: L, n: number): LClosure;
		luaF_initupvals(L: L, cl: LClosure): void;
	};
	ldo: { luaD_inctop(L: L): void };
	/** Compiled Lua files (see below): templates by file name, with the source they were compiled from. */
	compiled: Map<string, { source: Buffer; template: Proto }>;
}

/*
 * One fengari per jest worker.
 *
 * Jest gives every test file its own copy of each module it imports,
 * fengari included: V8 compiled fengari's JavaScript, and optimised its VM,
 * anew for every test file, which cost more than the tests' own Lua. The
 * test environment (jest_environment.mjs) loads fengari once per worker and
 * hands it to every test file as `__sharedLua`; elsewhere (scripts run with
 * tsx) this module makes its own, with the same factory (shared_lua.mjs). Test files stay as isolated as before:
 * each simulator is a Lua state of its own, and fengari keeps nothing
 * across states that a test could see (only math.random's seed, which the
 * states of one test file already shared, and which nothing here sets).
 */
const shared: SharedLua = (globalThis as { __sharedLua?: SharedLua }).__sharedLua ?? (makeSharedLua() as SharedLua);
const { lauxlib, lua, lualib, to_jsstring, to_luastring } = shared.fengari;

/*
 * Compiled Lua files, shared between Lua states.
 *
 * Every simulator is a new Lua state that loads the same few dozen files of
 * Prosody's source (and the built module), and fengari's parser made up
 * most of its creation time. So `loadfile` (and `require`, which uses it)
 * compiles each file once per jest worker, and keeps what fengari's
 * compiler made, its Proto objects, as a template that each load copies:
 * a copy is a few hundred small objects, where parsing was the whole file.
 * Only compiling is shared: each state still runs every chunk itself, so no
 * module-level state, nor anything else, crosses from one Lua state (one
 * simulator) to another. The file is read on every load and its template
 * used only for the very source it was compiled from, byte for byte, so an
 * edit of a module, or a rebuild of dist-lua/, is always seen. What the
 * cache cannot answer goes to fengari's own luaL_loadfilex: results and
 * error messages are those of Lua's loadfile.
 */

/** The parts of fengari's API only the chunk cache uses (not in fengari.d.ts). */
const api = lua as typeof lua & {
	lua_pushcfunction(L: L, f: (L: L) => number): void;
	lua_setupvalue(L: L, funcindex: number, n: number): LuaString | null;
	lua_isnone(L: L, index: number): boolean;
	lua_insert(L: L, index: number): void;
};
const aux = lauxlib as typeof lauxlib & {
	luaL_loadfilex(L: L, filename: LuaString | null, mode: LuaString | null): number;
	luaL_optstring(L: L, arg: number, def: LuaString | null): LuaString | null;
};
const LUA_RIDX_GLOBALS = 2;

/** The value on top of L's stack (fengari's lua_State: a stack of TValues). */
function top(L: L): { value: unknown; setclLvalue(cl: LClosure): void } {
	const state = L as unknown as { stack: { value: unknown; setclLvalue(cl: LClosure): void }[]; top: number };
	return state.stack[state.top - 1];
}

/**
 * A copy of a compiled function, and of the functions defined in it, for
 * state L: new objects, with L's ids and no cached closure, sharing the
 * code, constants and debug information, which nothing writes.
 */
function copyProto(L: L, proto: Proto): Proto {
	const copy = new shared.lfunc.Proto(L);
	const id = copy.id;
	Object.assign(copy, proto);
	copy.id = id;
	copy.cache = null;
	copy.p = proto.p.map((child) => copyProto(L, child));
	return copy;
}

/** Pushes a closure of a copy of `template`, as lua_load leaves a chunk it loaded (_ENV: the globals). */
function pushChunk(L: L, template: Proto): void {
	const cl = shared.lfunc.luaF_newLclosure(L, template.upvalues.length);
	cl.p = copyProto(L, template);
	shared.ldo.luaD_inctop(L);
	top(L).setclLvalue(cl);
	shared.lfunc.luaF_initupvals(L, cl);
	if (cl.nupvalues >= 1) {
		lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
		api.lua_setupvalue(L, -2, 1);
	}
}

/** luaL_loadfilex through the cache. */
function loadfileCached(L: L, filename: LuaString | null, mode: LuaString | null): number {
	// stdin, or only binary chunks allowed: as Lua does it.
	if (filename === null || (mode !== null && !to_jsstring(mode).includes("t"))) return aux.luaL_loadfilex(L, filename, mode);
	const file = to_jsstring(filename);
	let source: Buffer;
	try {
		source = readFileSync(file);
	} catch {
		return aux.luaL_loadfilex(L, filename, mode); // its "cannot open" message
	}
	if (source[0] === 0x1b) return aux.luaL_loadfilex(L, filename, mode); // a binary chunk
	const known = shared.compiled.get(file);
	if (known !== undefined && known.source.equals(source)) {
		pushChunk(L, known.template);
		return lua.LUA_OK;
	}
	const status = aux.luaL_loadfilex(L, filename, mode);
	if (status === lua.LUA_OK) {
		const { p } = top(L).value as LClosure;
		// Compiled by another fengari than shared.fengari's (none is expected): not kept.
		if (p instanceof shared.lfunc.Proto) shared.compiled.set(file, { source, template: copyProto(L, p) });
	}
	return status;
}

/** Lua's loadfile (luaB_loadfile), through the cache. */
function luaLoadfile(L: L): number {
	const filename = aux.luaL_optstring(L, 1, null);
	const mode = aux.luaL_optstring(L, 2, null);
	const env = api.lua_isnone(L, 3) ? 0 : 3;
	if (loadfileCached(L, filename, mode) !== lua.LUA_OK) {
		lua.lua_pushnil(L);
		api.lua_insert(L, -2);
		return 2;
	}
	if (env !== 0) {
		lua.lua_pushvalue(L, env);
		if (api.lua_setupvalue(L, -2, 1) === null) lua.lua_pop(L, 1);
	}
	return 1;
}

/**
 * require's searcher for Lua files (package.searchers[2]), on the cached
 * loadfile: the same search and messages as Lua's.
 */
const SEARCHER = `
	local loadfile, package, format = loadfile, package, string.format;
	package.searchers[2] = function (name)
		local filename, err = package.searchpath(name, package.path);
		if not filename then return err; end
		local chunk, msg = loadfile(filename);
		if not chunk then error(format("error loading module '%s' from file '%s':\\n\\t%s", name, filename, msg), 0); end
		return chunk, filename;
	end`;

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
		api.lua_pushcfunction(this.L, luaLoadfile);
		lua.lua_setglobal(this.L, to_luastring("loadfile"));
		this.run(SEARCHER);
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
			let chunk = this.chunks.get(code);
			if (chunk === undefined) {
				if (lauxlib.luaL_loadbuffer(L, to_luastring(code), null, to_luastring("=(test)")) !== lua.LUA_OK) {
					throw new LuaError(lua.lua_tojsstring(L, -1));
				}
				chunk = lauxlib.luaL_ref(L, lua.LUA_REGISTRYINDEX);
				this.chunks.set(code, chunk);
			}
			lua.lua_rawgeti(L, lua.LUA_REGISTRYINDEX, chunk);
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
	/**
	 * Each chunk `run` was given, compiled (in the registry), by its code:
	 * the simulator's calls are a few dozen chunks run again and again with
	 * other arguments.
	 */
	private readonly chunks = new Map<string, number>();
}
