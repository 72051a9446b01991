// What the documents quote must be true of the code: the files they name
// exist, the defaults in the README's configuration table are the ones the
// module reads, and the size of the generated file is the one it has.
// (docs_references.test.ts checks the tests docs/CONFORMANCE.md names.)
// CHANGELOG.md is history: it names files as they were then.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../harness/server/prosody_sources.js";

const DOCUMENTS = ["README.markdown", "CONTRIBUTING.md", "docs/BENCHMARKS.md", "docs/CLIENTS.md", "docs/CONFORMANCE.md", "docs/DETAILS.md"];
const read = (file: string) => readFileSync(path.join(repoRoot, file), "utf8");
const MODULE_FILE = "dist-lua/mod_invites_register.lua";
/** What the tools write (not in git, so absent on a fresh clone): a path in these is named, not expected to exist. */
const WRITTEN_BY_TOOLS = ["bench/results/", "dist-rock/", "spec/e2e/artifacts/"];

/** Every option the module reads: its name and the default it passes (undefined: none; "option:NAME": falls back to that option). */
function optionsInSource(): Map<string, string | undefined> {
	const options = new Map<string, string | undefined>();
	const srcDir = path.join(repoRoot, "src");
	for (const file of readdirSync(srcDir).filter((f) => f.endsWith(".ts"))) {
		const source = readFileSync(path.join(srcDir, file), "utf8");
		for (const m of source.matchAll(/_option(?:_[a-z]+)?\("([a-z0-9_]+)"(?=(?:,\s*([^,)]+))?)/g)) {
			if (m[1] === "sql") continue; // Prosody's own, read as mod_storage_sql does
			const fallback = m[2]?.startsWith("module.get_option") ? "option:" : undefined; // (the lookahead leaves the nested call to be matched too)
			if (!options.has(m[1])) options.set(m[1], fallback ?? m[2]);
		}
	}
	return options;
}

describe("the documents", () => {
	test.each(DOCUMENTS)("%s names only files that exist", (doc) => {
		const text = read(doc);
		const dir = path.dirname(path.join(repoRoot, doc));
		const missing: string[] = [];
		// Backticked paths in the repository (a test may be named without .test.ts; `x` stands for any name).
		for (const m of text.matchAll(/`(?:\.\.\/)?((?:src|spec|harness|bench|scripts|docs|dist-lua|rocks|tools|\.ci)\/[A-Za-z0-9_./-]*)`/g)) {
			const file = m[1];
			if (/\/x(\.|$)/.test(file) || WRITTEN_BY_TOOLS.some((dir) => file.startsWith(dir))) continue;
			if (!existsSync(path.join(repoRoot, file)) && !existsSync(path.join(repoRoot, `${file}.test.ts`))) missing.push(file);
		}
		// Links to local files.
		for (const m of text.matchAll(/\]\(([^)#: ]+)/g)) {
			if (!existsSync(path.join(dir, m[1]))) missing.push(m[1]);
		}
		expect(missing).toEqual([]);
	});

	test("the README's configuration table gives the defaults the module reads", () => {
		const readme = read("README.markdown");
		// The first table under "Configuration": its lines, up to the first that is not a row.
		const lines = readme.slice(readme.indexOf("\nConfiguration\n")).split("\n");
		const first = lines.findIndex((line) => line.startsWith("|"));
		const end = lines.findIndex((line, i) => i > first && !line.startsWith("|"));
		const section = lines.slice(first, end).join("\n");
		const rows = [...section.matchAll(/^\| ([a-z0-9_]+) +\|.*\| (.+?) \|$/gm)].map((m) => ({ name: m[1], cell: m[2] }));
		expect(rows.length).toBeGreaterThan(8);
		const options = optionsInSource();
		const wrong: string[] = [];
		for (const { name, cell } of rows) {
			if (!options.has(name)) {
				wrong.push(`${name}: not read by the module`);
				continue;
			}
			let inSource = options.get(name);
			const documented = cell.match(/`([^`]+)`/)?.[1];
			// Falls back to another option: the README names it, and gives its default.
			if (inSource === "option:") {
				const other = cell.match(/falls back to `([a-z0-9_]+)`/)?.[1];
				inSource = other === undefined ? "another option, not named in the README" : options.get(other);
			}
			// Read without a default: the README says what happens when it is unset.
			if (inSource === undefined ? !/unset/.test(cell) : documented !== inSource) wrong.push(`${name}: README ${cell}, module ${inSource ?? "no default"}`);
		}
		// And every option an admin may set is in the table (the generation size is a test knob, documented in invite_claims.ts).
		const documentedNames = new Set(rows.map((r) => r.name));
		for (const name of options.keys()) {
			if (!documentedNames.has(name) && name !== "invites_register_used_tokens_generation" && name !== "require_encryption") wrong.push(`${name}: read by the module, not in the README`);
		}
		expect(wrong).toEqual([]);
	});

	test("the SQL round's default interval is the one the README gives", () => {
		const source = read("src/outside_invites.ts");
		expect(source).toMatch(/const SQL_ROUND_SECONDS = refresh \?\? 60;/);
		expect(read("README.markdown")).toMatch(/\| `60` on SQL, unset otherwise \|/);
	});

	test("the size quoted for the generated file is its size, within 5 %", () => {
		const bytes = statSync(path.join(repoRoot, MODULE_FILE)).size;
		const quoted = DOCUMENTS.flatMap((doc) => [...read(doc).matchAll(/[Tt]he file is about ([0-9]+) kB/g)].map((m) => ({ doc, kb: Number(m[1]) })));
		expect(quoted.length).toBeGreaterThan(0);
		for (const { doc, kb } of quoted) expect({ doc, off: Math.abs(kb * 1000 - bytes) / bytes <= 0.05 }).toEqual({ doc, off: true });
		// No exact byte count of it is quoted: it changes with every commit.
		for (const doc of DOCUMENTS) expect({ doc, exact: /[Tt]he file is [0-9][0-9 ]* bytes/.test(read(doc)) }).toEqual({ doc, exact: false });
	});
});
