// The busted specs (spec/*_spec.lua) under fengari: each `it` is a jest
// test, run by spec/support/busted_compat.lua with Debian's luassert — the
// same assertions Debian's busted checks on Lua 5.1 (`npm run test:busted`).
import { readdirSync } from "node:fs";
import path from "node:path";
import { LuaState } from "../../harness/sim/lua_state.js";
import { prosodySource, repoRoot } from "../../harness/server/prosody_sources.js";

const specs = readdirSync(path.join(repoRoot, "spec")).filter((name) => name.endsWith("_spec.lua"));

for (const spec of specs) {
	describe(spec, () => {
		const lua = new LuaState([path.join(repoRoot, "spec/support/?.lua"), path.join(repoRoot, "harness/sim/?.lua"), path.join(repoRoot, "harness/sim/?/init.lua")]);
		lua.run("runner = require 'busted_compat'");
		// Where the specs find Prosody's source (fengari has no io.open to look for .cache/prosody-0.12).
		lua.run("PROSODY_SOURCES = { ['0.12'] = select(1, ...), ['13'] = select(2, ...) }", prosodySource("0.12"), prosodySource("13"));
		const tests = lua.run("return runner.load(...)", path.join("spec", spec)) as { id: number; name: string; pending: boolean }[];

		test("defines tests", () => {
			expect(tests.length).toBeGreaterThan(0);
		});

		for (const t of tests) {
			(t.pending ? test.skip : test)(t.name, () => {
				expect(lua.run("return runner.run(...)", t.id)).toBe("passed");
			});
		}
	});
}
