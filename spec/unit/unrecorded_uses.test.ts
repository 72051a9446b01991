// A use that storage did not record: mod_invites' use() deletes a
// single-use invite from its store and ignores a failure (it returns true
// regardless), so the used invite would register a second account after a
// restart. The module confirms the deletion, keeps the use in a store of
// its own when it failed, refuses the invite across restarts, and deletes
// it again until storage lets it go (src/used_invites.ts).
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const USED = { type: "cancel", condition: "item-not-found" };

function restart(sim: ProsodySim): void {
	sim.call(`assert(sim.modulemanager.reload(sim.host, "invites_register"))`);
}

const warned = (sim: ProsodySim) => sim.logs("error").some((l) => /was used, but mod_invites could not delete it from storage/.test(l.message));

describe.each(prosodyVersions)("uses that storage did not record, on Prosody %s", (version) => {
	const sims = simulators();

	test("a use that storage confirmed is not read back: a registration reads the invite store at <preauth/> and at its re-check only", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const before = sim.hostReads("invite_token");
		const client = sim.connect();
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.hostReads("invite_token") - before).toBe(2);
		expect(warned(sim)).toBe(false);
		expect(sim.invites.isValid(invite.token)).toBe(false);
	});

	test("a single-use invite whose deletion failed is refused, also after a restart, and deleted once storage works", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		sim.storage.fail("invite_token", "error", "set");
		const client = sim.connect();
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(warned(sim)).toBe(true);
		expect(sim.invites.isValid(invite.token)).toBe(true); // mod_invites still has it
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toMatchObject(USED);
		restart(sim);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toMatchObject(USED);
		const other = sim.connect();
		sim.preauth(other, invite.token);
		expect(sim.register(other, "mallory").attrs.type).toBe("error");
		expect(sim.userExists("mallory")).toBe(false);
		sim.storage.fail("invite_token", undefined);
		sim.advance(30);
		expect(sim.invites.isValid(invite.token)).toBe(false);
		expect(sim.stored("invites_register_unrecorded")).toBeUndefined();
		expect(sim.logs("info").filter((l) => /^Used invite .* is now deleted from storage$/.test(l.message))).toHaveLength(1);
	});

	test("when this module's own store fails too, the use is refused while the server runs, and kept once storage is back", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		sim.storage.fail("invite_token", "error", "set");
		sim.storage.fail("invites_register_unrecorded", "error");
		const client = sim.connect();
		sim.preauth(client, invite.token);
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.logs("error").some((l) => l.message.startsWith("Could not write the use of invite"))).toBe(true);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toMatchObject(USED);
		sim.storage.fail("invites_register_unrecorded", undefined);
		sim.advance(30);
		expect(Object.keys(sim.stored("invites_register_unrecorded") as object)).toEqual([invite.token]);
		restart(sim);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toMatchObject(USED);
	});

	test("a password reset invite whose use was not recorded cannot reset the password again", () => {
		const sim = sims.create({ version });
		sim.createUser("bob", "old-password");
		const invite = sim.invites.createReset("bob");
		sim.storage.fail("invite_token", "error", "set");
		const client = sim.connect();
		sim.preauth(client, invite.token);
		expect(sim.register(client, "bob", "new-password").attrs.type).toBe("result");
		restart(sim);
		const again = sim.connect();
		expect(stanzaError(sim.preauth(again, invite.token))).toMatchObject(USED);
		expect(sim.register(again, "bob", "third-password").attrs.type).toBe("error");
		expect(sim.testPassword("bob", "new-password")).toBe(true);
	});

	test("a use that storage recorded leaves nothing behind: one read to confirm, no write of our own", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		sim.preauth(client, invite.token);
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.stored("invites_register_unrecorded")).toBeUndefined();
		expect(warned(sim)).toBe(false);
		expect(sim.call("return sim.storage.writes.invites_register_unrecorded or 0")).toBe(0);
	});
});
