// The generated file an admin installs: one self-contained Lua module with
// a header, no globals, loading on every Lua Prosody runs on.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { prosodySource, repoRoot } from "../../harness/server/prosody_sources.js";

const file = path.join(repoRoot, "dist-lua/mod_invites_register.lua");
const lua = readFileSync(file, "utf8");
const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { name: string; version: string };

test("is the only file in dist-lua/", () => {
	expect(execFileSync("ls", [path.join(repoRoot, "dist-lua")], { encoding: "utf8" }).trim()).toBe("mod_invites_register.lua");
});

test("opens with a header naming its TypeScript source and the package version", () => {
	const header = lua.split("\n").slice(0, 5).join("\n");
	expect(header).toContain(`-- ${pkg.name} ${pkg.version}:`);
	expect(header).toContain("from src/mod_invites_register.ts");
	expect(header).toMatch(/do not edit/);
});

test("needs no lualib: no helper functions and no require of lualib_bundle", () => {
	expect(lua).not.toMatch(/__TS__/);
	expect(lua).not.toMatch(/lualib_bundle/);
});

test("never wraps a multiple-return call into a table (a TypeScriptToLua trap: `not ({f()})` is always false)", () => {
	expect(lua).not.toMatch(/\(\{[\w.:]+\(/);
});

test("keeps the reasons of the hooks: every handler module:hook gets is a named function with a comment above it", () => {
	const entry = lua.slice(lua.indexOf('["mod_invites_register"] = function(...)'));
	const hooked = [...entry.matchAll(/module:hook(?:_global)?\(\s*"[^"]+",\s*(?:protected_handler\(\s*"[^"]+",\s*)?(\w+)/g)].map((m) => m[1]);
	expect(hooked.length).toBeGreaterThanOrEqual(9);
	const undocumented = hooked.filter((name) => !new RegExp(`--[^\n]*\n(?:--[^\n]*\n)*(?:local )?function ${name}\\(`).test(entry));
	expect(undocumented).toEqual([]);
	// The reasons an admin needs most: the priorities, and what must not yield.
	expect(entry).toContain("Priority -10: after other modules' checks");
	expect(entry).toContain("Priority 1: before mod_presence");
	expect(entry).toContain("nothing may yield");
});

test("bundles only the entry module and what it imports", () => {
	// The bundle maps each module's name to its chunk: ["name"] = function(...) … end,
	const chunks = new Map<string, string>();
	const starts = [...lua.matchAll(/^\["([\w.]+)"\] = function\(\.\.\.\)$/gm)];
	starts.forEach((start, i) => chunks.set(start[1], lua.slice(start.index, starts[i + 1]?.index ?? lua.length)));
	expect(chunks.has("mod_invites_register")).toBe(true);
	const reachable = new Set<string>();
	const visit = (name: string): void => {
		if (reachable.has(name) || !chunks.has(name)) return;
		reachable.add(name);
		for (const [, required] of chunks.get(name)!.matchAll(/\brequire\("([\w.]+)"\)/g)) visit(required);
	};
	visit("mod_invites_register");
	expect([...chunks.keys()].filter((name) => !reachable.has(name))).toEqual([]);
});

test("luacheck finds no global access (nor anything else)", () => {
	const result = spawnSync("luacheck", ["--formatter", "plain", file], { cwd: repoRoot, encoding: "utf8" });
	expect(result.stdout).toBe("");
	expect(result.status).toBe(0);
});

describe("runs in the simulator on", () => {
	const runs: [string, string][] = [
		["lua5.1", "0.12"],
		["luajit", "0.12"],
		["lua5.2", "0.12"],
		["lua5.3", "0.12"],
		["lua5.4", "0.12"],
		// Prosody 13 requires Lua 5.2 or later.
		["lua5.2", "13"],
		["lua5.3", "13"],
		["lua5.4", "13"],
	];
	test.each(runs)("%s with Prosody %s", (interpreter, version) => {
		const out = execFileSync(interpreter, [path.join(repoRoot, "spec/support/load_check.lua"), prosodySource(version as "0.12" | "13"), version], {
			encoding: "utf8",
		});
		expect(out.trim()).toMatch(new RegExp(`^ok Lua .* prosody ${version.replace(".", "\\.")}$`));
	});
});
