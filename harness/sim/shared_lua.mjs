// fengari (the Lua VM in JavaScript), the parts of its internals
// lua_state.ts's chunk cache needs, and that cache: what every Lua state of
// the simulator shares. Made once per jest worker by
// spec/support/jest_environment.mjs (outside the test files' sandbox, so
// that V8 compiles fengari once per worker), and by lua_state.ts itself
// where no test environment made it (scripts run with tsx). One factory
// for both: the shape is declared in shared_lua.d.mts.
import { createRequire } from "node:module";

export function makeSharedLua() {
	const require = createRequire(import.meta.url);
	return {
		fengari: require("fengari"),
		lfunc: require("fengari/src/lfunc.js"),
		ldo: require("fengari/src/ldo.js"),
		compiled: new Map(),
	};
}
