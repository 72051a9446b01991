// docs/CONFORMANCE.md names, for each requirement, the tests that show it
// (`unit/preauth`: `a used token is refused`, `… › …`). A renamed or
// removed test must not leave the table naming a test that does not exist:
// every name quoted there must still be in its file (each part of a
// `describe › test` path; "…" stands for the previous name's first part),
// or for titles the harness makes, in the client it names.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../harness/server/prosody_sources.js";

const DOC = "docs/CONFORMANCE.md";

interface Reference {
	file: string;
	name: string;
}

/** The references in one cell: `kind/file`: `name`, `name`; `kind/file`: … */
function references(text: string): Reference[] {
	const found: Reference[] = [];
	for (const group of text.matchAll(/`((?:unit|e2e|types|build)\/[a-z0-9_]+)`:((?:\s*`[^`]+`\s*,?)+)/g)) {
		const file = group[1];
		for (const quoted of group[2].matchAll(/`([^`]+)`/g)) found.push({ file, name: quoted[1] });
	}
	return found;
}

/** A test's title as written in its source: a test.each "%s" is a wildcard. */
function inSource(source: string, part: string): boolean {
	const pieces = part.split("%s").map((piece) => piece.trim()).filter((piece) => piece !== "");
	return pieces.every((piece) => source.includes(piece));
}

describe(`the tests ${DOC} names`, () => {
	const doc = readFileSync(path.join(repoRoot, DOC), "utf8");
	const refs = references(doc);

	test("are found in the table at all", () => {
		expect(refs.length).toBeGreaterThan(30);
	});

	test("each exists in its file", () => {
		// Some titles are made in the harness (the clients' names of client_flows, say).
		const shared = ["harness/clients/conversations_client.ts", "harness/clients/web_registration.ts", "harness/clients/xmpp_client.ts"].map((f) => readFileSync(path.join(repoRoot, f), "utf8")).join("\n");
		const missing: string[] = [];
		let previous: string[] = [];
		for (const { file, name } of refs) {
			const testFile = path.join(repoRoot, "spec", `${file}.test.ts`);
			if (!existsSync(testFile)) {
				missing.push(`${file}: no such test file`);
				continue;
			}
			const source = `${readFileSync(testFile, "utf8")}\n${shared}`;
			const parts = name.split(" › ").map((part, i) => (part === "…" ? previous[i] : part.replace(/^… /, "")));
			previous = parts;
			for (const part of parts) {
				if (part === undefined || !inSource(source, part)) missing.push(`${file}: ${name}`);
			}
		}
		expect(missing).toEqual([]);
	});
});
