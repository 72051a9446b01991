/**
 * What must hold after every unit test, whatever it exercised: no Lua error
 * escaped a hook, and no invite token reached the log above debug level.
 */
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";

export function expectNoEscapedErrors(sim: ProsodySim): void {
	expect(sim.errors()).toEqual([]);
}

/** Tokens are secrets: not in any log line above debug, nor whole at debug either. */
export function expectTokensNotLogged(sim: ProsodySim, tokens: string[]): void {
	for (const entry of sim.logs("debug")) {
		for (const token of tokens) {
			if (entry.level !== "debug" || entry.source.includes("invites_register")) {
				expect(entry.message).not.toContain(token);
			}
		}
	}
}
