/**
 * Simulators for a test file: `const sims = simulators();` then
 * `sims.create({ version })` in each test. After every test, the
 * invariants hold for each simulator it created: no Lua error escaped a
 * hook, and no token was logged.
 */
import { expectNoEscapedErrors, expectTokensNotLogged } from "./invariants.js";
import { ProsodySim, type SimOptions } from "../../harness/sim/prosody_sim.js";

export function simulators(): { create(options: SimOptions): ProsodySim } {
	let created: ProsodySim[] = [];
	afterEach(() => {
		const sims = created;
		created = [];
		for (const sim of sims) {
			expectNoEscapedErrors(sim);
			expectTokensNotLogged(sim, sim.tokens);
		}
	});
	return {
		create(options: SimOptions): ProsodySim {
			const sim = ProsodySim.create(options);
			created.push(sim);
			return sim;
		},
	};
}
