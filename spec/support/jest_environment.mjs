// Jest's node environment, plus one fengari (the Lua VM in JavaScript) per
// jest worker, shared by the test files that worker runs: without it, every
// test file loaded fengari anew, and V8 compiled and optimised its VM from
// scratch each time. harness/sim/lua_state.ts uses it (and makes its own
// when run outside jest); both make it with harness/sim/shared_lua.mjs.
//
// Loaded by Node here, outside the test files' sandbox: fengari is then one
// module for the whole worker process. No test sees another's Lua state:
// each LuaState (each simulator) is a state of its own, and only compiled
// Lua files are shared between them (see lua_state.ts).
import { TestEnvironment } from "jest-environment-node";
import { makeSharedLua } from "../../harness/sim/shared_lua.mjs";

// Frozen: jest's clean-up of a test file's globals leaves it alone (it only
// replaces configurable properties), and so does any test.
const sharedLua = Object.freeze(makeSharedLua());

export default class Environment extends TestEnvironment {
	constructor(config, context) {
		super(config, context);
		this.global.__sharedLua = sharedLua;
	}
}
