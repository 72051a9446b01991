/**
 * Loads Prosody's libraries on 0.12 and 13 alike.
 */
import type { ProsodyLibraries } from "./types/libraries";

/**
 * Requires a library under the name the running Prosody uses:
 * "prosody.util.stanza" in 13, "util.stanza" in 0.12 (which has no
 * "prosody." namespace). Runs once per library, when the module loads; the
 * server has loaded these libraries already, so the require() that
 * searches the filesystem (and fails on 0.12) is a last resort.
 */
export function prosody_require<N extends keyof ProsodyLibraries>(name: N): ProsodyLibraries[N] {
	const loaded = lua_package.loaded as { readonly [name: string]: ProsodyLibraries[N] | undefined };
	const lib = loaded[`prosody.${name}`] ?? loaded[name];
	if (lib !== undefined) {
		return lib;
	}
	const [found, namespaced] = pcall(require, `prosody.${name}`);
	if (found) {
		return namespaced;
	}
	return require(name);
}

export const st = prosody_require("util.stanza");
export const jid = prosody_require("util.jid");
export const rostermanager = prosody_require("core.rostermanager");
export const usermanager = prosody_require("core.usermanager");
