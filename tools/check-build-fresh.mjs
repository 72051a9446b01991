// Refuses to test a stale build: dist-lua/mod_invites_register.lua must be
// newer than every input of `npm run build` (src/, the build configuration,
// the header plugin, package.json's version). Used as jest's globalSetup,
// so that `npx jest spec/unit/…` after an edit of src/ stops with a clear
// message instead of testing the old module; the npm test scripts build
// first, so they never meet it.
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const built = path.join(root, "dist-lua/mod_invites_register.lua");
const inputs = ["src", "tstl.json", "tsconfig.json", "tools/tstl-header-plugin.cjs", "package.json"];

function newest(file) {
	const stat = statSync(file);
	if (!stat.isDirectory()) return { file, mtime: stat.mtimeMs };
	let best = { file, mtime: 0 };
	for (const entry of readdirSync(file)) {
		const found = newest(path.join(file, entry));
		if (found.mtime > best.mtime) best = found;
	}
	return best;
}

/** The input newer than the build, or undefined when the build is fresh. */
export function staleInput() {
	let builtAt;
	try {
		builtAt = statSync(built).mtimeMs;
	} catch {
		return path.relative(root, built) + " (missing)";
	}
	for (const input of inputs) {
		const found = newest(path.join(root, input));
		if (found.mtime > builtAt) return path.relative(root, found.file);
	}
	return undefined;
}

export default function checkBuildFresh() {
	const stale = staleInput();
	if (stale !== undefined) {
		throw new Error(
			`dist-lua/mod_invites_register.lua is older than ${stale}: the tests would run the old module. ` +
				"Run `npm run build` (it writes nothing when the type check fails: fix the errors it prints), " +
				"or use `npm test` / `npm run test:unit`, which build first.",
		);
	}
}

// As a command (`node tools/check-build-fresh.mjs`): exit 1 with the message.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
	try {
		checkBuildFresh();
	} catch (error) {
		console.error(error.message);
		process.exit(1);
	}
}
