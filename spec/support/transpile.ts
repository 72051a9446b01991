/**
 * Transpiles a TypeScript snippet against the typed Prosody API
 * (src/types/) with the build's TypeScriptToLua options, for compile
 * tests: what Lua a snippet becomes, and which type errors it has.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import * as tstl from "typescript-to-lua";
import { repoRoot } from "../../harness/server/prosody_sources.js";

export interface Transpiled {
	/** The Lua of the snippet (without TypeScriptToLua's module wrapper lines). */
	lua: string;
	/** Type errors, as "TS<code>: <message>". */
	diagnostics: string[];
}

const scratch = path.join(repoRoot, ".cache/tstl-snippets");

/**
 * `code` is the body of a module that may use `module`, `prosody` and these
 * imports: st, jid, rostermanager, usermanager (libraries) and every type
 * of src/types.
 */
export function transpile(code: string): Transpiled {
	mkdirSync(scratch, { recursive: true });
	const dir = mkdtempSync(path.join(scratch, "snippet-"));
	const file = path.join(dir, "snippet.ts");
	const types = path.relative(dir, path.join(repoRoot, "src/types")).split(path.sep).join("/");
	const source = [
		`/// <reference path="${types}/globals.d.ts" />`,
		`/// <reference path="${types}/lua.d.ts" />`,
		`import type * as P from "${types}/index";`,
		`declare const st: P.StanzaLib, jid: P.JidLib, rostermanager: P.RosterManager, usermanager: P.UserManager;`,
		`export {};`,
		"// ---- snippet",
		code,
	].join("\n");
	writeFileSync(file, source);
	const out: Record<string, string> = {};
	try {
		const result = tstl.transpileFiles([file], {
			target: ts.ScriptTarget.ES2020,
			lib: ["lib.es2020.d.ts"],
			module: ts.ModuleKind.Preserve,
			moduleResolution: ts.ModuleResolutionKind.Bundler,
			strict: true,
			types: ["lua-types/5.1", "@typescript-to-lua/language-extensions"],
			typeRoots: [path.join(repoRoot, "node_modules/@types"), path.join(repoRoot, "node_modules")],
			skipLibCheck: true,
			rootDir: dir,
			outDir: dir,
			luaTarget: tstl.LuaTarget.Universal,
			noImplicitSelf: true,
			luaLibImport: tstl.LuaLibImportKind.RequireMinimal,
			noHeader: true,
		}, (name, text) => {
			out[path.basename(name)] = text;
		});
		const diagnostics = result.diagnostics
			.filter((d) => d.category === ts.DiagnosticCategory.Error)
			.map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`);
		const lua = (out["snippet.lua"] ?? "")
			.split("\n")
			.filter((line) => !/^local ____exports = \{\}$|^return ____exports$/.test(line))
			.join("\n")
			.trim();
		return { lua, diagnostics };
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}
