/**
 * Loads Prosody's libraries on 0.12 and 13 alike.
 */
import type { ProsodyLibraries } from "./types/libraries";

/**
 * Requires a library under the name the running Prosody uses:
 * "prosody.util.stanza" in 13, "util.stanza" in 0.12 (which has no
 * "prosody." namespace). Runs once per library, when the module loads.
 */
export function prosody_require<N extends keyof ProsodyLibraries>(name: N): ProsodyLibraries[N] {
	const [found, lib] = pcall(require, `prosody.${name}`);
	if (found) {
		return lib;
	}
	return require(name);
}

export const st = prosody_require("util.stanza");
export const jid = prosody_require("util.jid");
export const rostermanager = prosody_require("core.rostermanager");
export const usermanager = prosody_require("core.usermanager");
