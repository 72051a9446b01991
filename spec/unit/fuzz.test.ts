// Property-based tests (fast-check): random stanzas and events thrown at
// every hook of the BUILT module (dist-lua/) in the simulated Prosody, on
// 0.12 and 13, with real invites of every kind mixed in so that the valid
// paths run too, time passing and storage failing now and then. After every
// action the invariants of spec/support/fuzz_world.ts are checked: no Lua
// error escapes a hook, every IQ get/set is answered exactly once (and no
// result/error ever), no account or password reset without a valid invite,
// a single-use invite used once, nothing written for an invalid token, no
// token in the logs.
//
// Reproducible: the seed is fixed (FUZZ_SEED overrides it), and FUZZ_RUNS
// sets the number of runs (each a new simulator and a sequence of up to 70
// actions) per property and version. A failure names the invariant and
// prints the transcript of the shrunk run (every stanza sent and received)
// and fast-check's { seed, path }: FUZZ_SEED=<seed> FUZZ_PATH=<path> with
// -t "<test name>" replays just that run. FUZZ_SHRINK=0 reports the first
// failure without shrinking it; FUZZ_VERBOSE=1 prints what the runs
// exercised (accounts created, resets, approvals, tokens accepted…).
//
//   npm run build && FUZZ_SEED=42 FUZZ_RUNS=50 node --experimental-vm-modules \
//     --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js spec/unit/fuzz.test.ts
import fc from "fast-check";
import { scenario, type Mix } from "../support/fuzz_actions.js";
import { emptyStats, FuzzWorld, type FuzzStats } from "../support/fuzz_world.js";
import { prosodyVersions, type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 0x1f_a5_e0;
const RUNS = process.env.FUZZ_RUNS !== undefined ? Number(process.env.FUZZ_RUNS) : 3;
const SHRINK = process.env.FUZZ_SHRINK !== "0";
const LENGTH = { min: 1, max: 70 };

const PATH = process.env.FUZZ_PATH;

/** Runs the property: `RUNS` scenarios of `mix`, each on a new simulator; returns what they exercised. */
function fuzz(version: ProsodyVersion, name: string, mix: Mix): FuzzStats {
	const stats = emptyStats();
	fc.assert(
		fc.property(scenario(mix, LENGTH), (s) => {
			FuzzWorld.run(version, s, stats);
		}),
		{ seed: SEED, numRuns: RUNS, endOnFailure: !SHRINK, ...(PATH !== undefined ? { path: PATH } : {}) },
	);
	if (process.env.FUZZ_VERBOSE) console.info(`Prosody ${version}, ${name}: ${JSON.stringify(stats)}`);
	return stats;
}

// Generous: shrinking a failure replays runs, each on a new simulator.
const TIMEOUT = 300_000 + RUNS * 10_000;

describe.each(prosodyVersions)("fuzzing the module on Prosody %s", (version) => {
	test(
		"<preauth/> from every kind of session: answered once, only stored unexpired tokens accepted, nothing written for bad ones",
		() => {
			const stats = fuzz(version, "preauth", { connect: 2, login: 1, close: 1, invite: 3, deleteInvite: 1, account: 1, advance: 1, storage: 1, features: 2, iq: 7, s2sIq: 1, hookIq: 2, burst: 1, flow: 1 });
			expect(stats.preauthAccepted).toBeGreaterThan(0);
			expect(stats.preauthRefused).toBeGreaterThan(0);
		},
		TIMEOUT,
	);

	test(
		"in-band registration: no account without a valid invite, a single-use invite creates one account",
		() => {
			const stats = fuzz(version, "registration", { connect: 1, login: 1, close: 1, invite: 2, deleteInvite: 1, account: 1, advance: 1, storage: 2, features: 1, iq: 2, registerIq: 3, hookIq: 1, burst: 2, race: 2, flow: 5 });
			expect(stats.accountsCreated).toBeGreaterThan(0);
		},
		TIMEOUT,
	);

	test(
		"registration events from other modules (user-registering, user-registered, user-password-reset, invite-created, web registration)",
		() => {
			const stats = fuzz(version, "events", { connect: 1, close: 1, invite: 2, deleteInvite: 1, account: 1, advance: 1, storage: 1, iq: 1, flow: 2, registering: 4, registered: 2, web: 2, webFlow: 3, inviteCreated: 2 });
			expect(stats.eventsAllowed + stats.webRegistered).toBeGreaterThan(0);
		},
		TIMEOUT,
	);

	test(
		"XEP-0379 subscription requests: approved only with a valid contact invite of that user, once",
		() => {
			const stats = fuzz(version, "xep0379", { login: 2, close: 1, invite: 2, deleteInvite: 1, account: 1, advance: 1, storage: 2, flow: 1, presence: 5, contactFlow: 4 });
			expect(stats.approvals).toBeGreaterThan(0);
		},
		TIMEOUT,
	);

	test(
		"everything at once",
		() => {
			fuzz(version, "everything", { connect: 1, login: 1, close: 1, invite: 2, deleteInvite: 1, account: 1, advance: 1, storage: 1, features: 1, iq: 2, registerIq: 1, s2sIq: 1, hookIq: 1, burst: 1, race: 1, flow: 2, presence: 2, contactFlow: 1, registering: 1, registered: 1, web: 1, webFlow: 1, inviteCreated: 1 });
		},
		TIMEOUT,
	);
});

// What the fuzzer found, kept as plain regression tests.
describe.each(prosodyVersions)("found by fuzzing, on Prosody %s", (version) => {
	const sims = simulators();

	// FUZZ_SEED=1 FUZZ_RUNS=25 (XEP-0379 property), shrunk: a contact invite
	// (ibr=y) made for a username that has no account (deleted since, or made
	// by an admin), used to register that very username. user-registered
	// subscribed the new user to their "inviter", that is to themselves; then
	// mod_presence, broadcasting her presence to her contacts, sent it to
	// herself again and again until "stack overflow" escaped, on every
	// available presence she sent. (Prosody's own mod_invites_register does
	// the same.) Fixed in src/registration.ts.
	test("registering the username of a contact invite's inviter makes no self-subscription", () => {
		// Since invites are checked against the accounts they name, an
		// inviter without account voids the invite: neither <preauth/> nor
		// the registration goes through, and nothing loops.
		const sim = sims.create({ version });
		const invite = sim.invites.createContact("mallory", true);
		const client = sim.connect();
		expect(stanzaError(sim.preauth(client, invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "This invite is no longer valid" });
		expect(sim.register(client, "mallory").attrs.type).toBe("error");
		const other = sim.connect();
		expect(sim.preauth(other, sim.invites.createAccount().token).attrs.type).toBe("result");
		expect(sim.register(other, "mallory").attrs.type).toBe("result");
		expect(sim.rosterItem("mallory", `mallory@${sim.host}`)).toBeUndefined();
		sim.login("mallory", "phone", { available: true });
		expect(sim.errors()).toEqual([]);
	});

});
