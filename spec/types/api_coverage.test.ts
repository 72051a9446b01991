// The typed Prosody API (src/types/) checked against Prosody's own source,
// for each supported version: every function core/moduleapi.lua gives
// modules (`function api:name(`) must be declared on ModuleApi, and every
// global function of modules/mod_invites.lua on ModInvites — with the call
// style the Lua uses: `:` for moduleapi methods, `.` for mod_invites'
// functions. The declarations are read with the TypeScript compiler API
// (program, checker, each signature's `this` parameter), the way
// TypeScriptToLua decides between `:` and `.`; one transpiled snippet then
// confirms the decision on the emitted Lua.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { prosodySource, serverVersions, repoRoot, type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { transpile } from "../support/transpile.js";

/** ":" (a method: self is passed) or "." (a plain function). */
type CallStyle = ":" | ".";

interface LuaFunction {
	name: string;
	style: CallStyle;
	/** Where it is defined, for failure messages: "core/moduleapi.lua:95". */
	at: string;
}

interface ApiSurface {
	/** The Lua file, relative to the Prosody source folder. */
	file: string;
	/** The interface in src/types that declares it. */
	declaration: { file: string; name: string };
	/** The call style every function of this file must be declared with. */
	style: CallStyle;
	/** How a call looks in Lua, for the emit check: `module:name(` or `invites.name(`. */
	receiver: string;
	extract(lua: string, file: string): LuaFunction[];
}

/**
 * Functions that exist in Prosody but cannot be typed, by surface, with the
 * reason. Keep this empty unless a function truly cannot be declared: an
 * exception must name a function the Lua still has, and must not be
 * declared (the test fails otherwise, so the list cannot go stale).
 */
const untypeable: Record<"moduleapi" | "mod_invites", Record<string, string>> = {
	moduleapi: {},
	mod_invites: {},
};

const identifier = "[A-Za-z_][A-Za-z0-9_]*";

/**
 * core/moduleapi.lua: `function api:name(` (a method), `function api.name(`
 * (a plain function; none so far) and aliases `api.name = api.other`
 * (hook_stanza), which are called like what they alias.
 */
function extractModuleApi(lua: string, file: string): LuaFunction[] {
	const found: LuaFunction[] = [];
	const aliases: { name: string; target: string; at: string }[] = [];
	lua.split("\n").forEach((line, i) => {
		const at = `${file}:${i + 1}`;
		const fn = new RegExp(`^function\\s+api([:.])(${identifier})\\s*\\(`).exec(line);
		if (fn) {
			found.push({ name: fn[2], style: fn[1] as CallStyle, at });
			return;
		}
		const alias = new RegExp(`^api\\.(${identifier})\\s*=\\s*api\\.(${identifier})\\s*;?\\s*(--.*)?$`).exec(line);
		if (alias) aliases.push({ name: alias[1], target: alias[2], at });
	});
	for (const alias of aliases) {
		const target = found.find((f) => f.name === alias.target);
		if (!target) throw new Error(`${alias.at}: api.${alias.name} aliases api.${alias.target}, which is not a function of ${file}`);
		found.push({ name: alias.name, style: target.style, at: alias.at });
	}
	return found;
}

/**
 * modules/mod_invites.lua: its API is the module's globals, i.e. top-level
 * `function name(` (not `local function`, not `function t.name(`/`t:name(`)
 * and `name = function(`.
 */
function extractModInvites(lua: string, file: string): LuaFunction[] {
	const found: LuaFunction[] = [];
	lua.split("\n").forEach((line, i) => {
		const m = new RegExp(`^function\\s+(${identifier})\\s*\\(`).exec(line) ?? new RegExp(`^(${identifier})\\s*=\\s*function\\s*\\(`).exec(line);
		if (m) found.push({ name: m[1], style: ".", at: `${file}:${i + 1}` });
	});
	return found;
}

const surfaces: Record<"moduleapi" | "mod_invites", ApiSurface> = {
	moduleapi: {
		file: "core/moduleapi.lua",
		declaration: { file: "src/types/moduleapi.d.ts", name: "ModuleApi" },
		style: ":",
		receiver: "module",
		extract: extractModuleApi,
	},
	mod_invites: {
		file: "modules/mod_invites.lua",
		declaration: { file: "src/types/mod_invites.d.ts", name: "ModInvites" },
		style: ".",
		receiver: "invites",
		extract: extractModInvites,
	},
};
const surfaceNames = Object.keys(surfaces) as (keyof typeof surfaces)[];

function luaFunctions(version: ProsodyVersion, surface: ApiSurface): LuaFunction[] {
	const lua = readFileSync(path.join(prosodySource(version), surface.file), "utf8");
	return surface.extract(lua, surface.file);
}

// ---- the declarations, through the TypeScript compiler API

/** What src/types declares for one member of an interface. */
interface DeclaredMember {
	name: string;
	optional: boolean;
	/** The call style of each call signature (overloads may not disagree); empty when not callable. */
	styles: Set<CallStyle>;
}

/** The build's compiler options (tsconfig.json), on the files of src/types only. */
function typesProgram(): ts.Program {
	const config = ts.getParsedCommandLineOfConfigFile(path.join(repoRoot, "tsconfig.json"), {}, {
		...ts.sys,
		onUnRecoverableConfigFileDiagnostic: (d) => {
			throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
		},
	});
	if (!config) throw new Error("tsconfig.json could not be read");
	const typesDir = path.join(repoRoot, "src/types");
	const rootNames = readdirSync(typesDir)
		.filter((f) => f.endsWith(".d.ts"))
		.map((f) => path.join(typesDir, f));
	return ts.createProgram({ rootNames, options: { ...config.options, noEmit: true } });
}

function hasJsDocTag(node: ts.Node, tag: string): boolean {
	return ts.getJSDocTags(node).some((t) => t.tagName.text === tag);
}

/**
 * How TypeScriptToLua (with the build's noImplicitSelf) calls a function
 * with this signature — its computeDeclarationContextType, for the
 * declarations that occur in an interface: an explicit `this` parameter
 * decides (`this: void` → "."); otherwise methods and function-typed
 * properties are called with ":" (unless the interface is @noSelf), and
 * other function types declared in the project are plain functions.
 */
function signatureStyle(program: ts.Program, declaration: ts.SignatureDeclaration): CallStyle {
	const first = declaration.parameters[0];
	if (first && ts.isIdentifier(first.name) && first.name.text === "this") {
		return first.type?.kind === ts.SyntaxKind.VoidKeyword ? "." : ":";
	}
	if (hasJsDocTag(declaration, "noSelf")) return ".";
	const parent = declaration.parent;
	if (ts.isMethodSignature(declaration) || ts.isMethodDeclaration(declaration) || ts.isPropertySignature(parent) || ts.isPropertyDeclaration(parent)) {
		const scope = ts.findAncestor(declaration, (n) => ts.isInterfaceDeclaration(n) || ts.isClassDeclaration(n));
		return scope && hasJsDocTag(scope, "noSelf") ? "." : ":";
	}
	const file = program.getSourceFile(declaration.getSourceFile().fileName);
	const inProject = file !== undefined && !program.isSourceFileDefaultLibrary(file) && !program.isSourceFileFromExternalLibrary(file);
	return inProject ? "." : ":";
}

function declaredMembers(program: ts.Program, file: string, interfaceName: string): Map<string, DeclaredMember> {
	const checker = program.getTypeChecker();
	const source = program.getSourceFile(path.join(repoRoot, file));
	if (!source) throw new Error(`${file} is not in the program`);
	const moduleSymbol = checker.getSymbolAtLocation(source);
	const symbol = moduleSymbol && checker.getExportsOfModule(moduleSymbol).find((s) => s.name === interfaceName);
	if (!symbol) throw new Error(`${file} does not export ${interfaceName}`);
	const members = new Map<string, DeclaredMember>();
	for (const property of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(symbol))) {
		const type = checker.getNonNullableType(checker.getTypeOfSymbol(property));
		const styles = new Set<CallStyle>();
		for (const signature of type.getCallSignatures()) {
			const declaration = signature.getDeclaration();
			styles.add(declaration ? signatureStyle(program, declaration) : ".");
		}
		members.set(property.name, {
			name: property.name,
			optional: (property.flags & ts.SymbolFlags.Optional) !== 0,
			styles,
		});
	}
	return members;
}

let program: ts.Program;
let declared: Record<keyof typeof surfaces, Map<string, DeclaredMember>>;
const coverage: string[] = [];

beforeAll(() => {
	program = typesProgram();
	declared = {
		moduleapi: declaredMembers(program, surfaces.moduleapi.declaration.file, surfaces.moduleapi.declaration.name),
		mod_invites: declaredMembers(program, surfaces.mod_invites.declaration.file, surfaces.mod_invites.declaration.name),
	};
});

afterAll(() => {
	if (coverage.length > 0) console.log(["Prosody API coverage (functions declared in src/types):", ...coverage].join("\n"));
});

test("src/types type-checks on its own with the build's options", () => {
	const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
	expect(diagnostics).toEqual([]);
});

describe.each(serverVersions)("Prosody %s", (version) => {
	test.each(surfaceNames)("every function of %s is declared, with its call style", (name) => {
		const surface = surfaces[name];
		const functions = luaFunctions(version, surface);
		// The extraction still finds the API (a changed layout of the Lua file must not pass silently).
		expect(functions.length).toBeGreaterThanOrEqual(name === "moduleapi" ? 50 : 9);
		const problems: string[] = [];
		let covered = 0;
		for (const fn of functions) {
			const member = declared[name].get(fn.name);
			const exception = untypeable[name][fn.name];
			if (exception !== undefined) {
				if (member) problems.push(`${fn.name} (${fn.at}) is declared but listed as untypeable: remove the exception`);
				continue;
			}
			if (fn.style !== surface.style) {
				problems.push(`${fn.name} (${fn.at}) is defined with "${fn.style}", expected "${surface.style}" for ${surface.file}`);
			}
			if (!member) {
				problems.push(`${fn.name} (${fn.at}) is not declared on ${surface.declaration.name} (${surface.declaration.file})`);
				continue;
			}
			const styles = [...member.styles];
			if (styles.length === 0) {
				problems.push(`${fn.name} (${fn.at}) is declared on ${surface.declaration.name} but is not callable`);
			} else if (styles.some((s) => s !== fn.style)) {
				const want = fn.style === ":" ? "a method without `this: void`" : "`this: void`";
				problems.push(`${fn.name} (${fn.at}) is called with "${fn.style}" in Lua but declared to compile to "${styles.join('" and "')}": declare it with ${want}`);
			} else {
				covered++;
			}
		}
		for (const exception of Object.keys(untypeable[name])) {
			if (!functions.some((f) => f.name === exception) && !serverVersions.some((v) => luaFunctions(v, surface).some((f) => f.name === exception))) {
				problems.push(`untypeable exception ${exception} names no function of ${surface.file}: remove it`);
			}
		}
		const excepted = functions.filter((f) => untypeable[name][f.name] !== undefined).length;
		coverage.push(
			`  ${version} ${surface.file}: ${covered} of ${functions.length} functions declared` + (excepted ? ` (${excepted} listed as untypeable)` : ""),
		);
		expect(problems).toEqual([]);
	});
});

test.each(surfaceNames)("%s: functions only one version has are optional; functions both have are not", (name) => {
	const surface = surfaces[name];
	const byVersion = new Map(serverVersions.map((v) => [v, new Set(luaFunctions(v, surface).map((f) => f.name))]));
	const all = new Set([...byVersion.values()].flatMap((names) => [...names]));
	const problems: string[] = [];
	for (const fn of all) {
		const member = declared[name].get(fn);
		if (!member) continue; // reported above
		const versions = serverVersions.filter((v) => byVersion.get(v)!.has(fn));
		if (versions.length < serverVersions.length && !member.optional) {
			problems.push(`${fn} exists in ${versions.join(" and ")} only: declare it optional (\`${fn}?\`) and say which version`);
		}
		if (versions.length === serverVersions.length && member.optional) {
			problems.push(`${fn} exists in every version (${versions.join(", ")}): it should not be optional`);
		}
	}
	expect(problems).toEqual([]);
});

test("the emitted Lua calls each declared function as the declarations say", () => {
	// One call per function: arguments of the declared parameter types (the
	// last overload), so the snippet type-checks and TypeScriptToLua picks
	// the declaration that is being checked.
	const lines: string[] = ["declare const invites: P.ModInvites;"];
	const expected: string[] = [];
	for (const name of surfaceNames) {
		const surface = surfaces[name];
		const names = new Set(serverVersions.flatMap((v) => luaFunctions(v, surface).map((f) => f.name)));
		for (const fn of [...names].sort()) {
			const member = declared[name].get(fn);
			if (!member || member.styles.size === 0) continue; // reported above
			const args = `args_${name}_${fn}`;
			lines.push(`declare const ${args}: Parameters<NonNullable<P.${surface.declaration.name}["${fn}"]>>;`);
			lines.push(`${surface.receiver}.${fn}${member.optional ? "!" : ""}(...${args});`);
			expected.push(`${surface.receiver}${[...member.styles][0]}${fn}(`);
		}
	}
	const result = transpile(lines.join("\n"));
	expect(result.diagnostics).toEqual([]);
	const calls = result.lua.split("\n").filter((line) => /^(module|invites)[:.]\w+\(/.test(line));
	expect(calls.map((line) => /^(\w+[:.]\w+\()/.exec(line)![1])).toEqual(expected);
});
