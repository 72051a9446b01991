// Claims last as long as the registration, not as long as its session:
// a single-use invite makes one account even when the registering
// connection drops while the account is being written; and a username is
// claimed too, so that two registrations of one new name never both
// succeed (mod_register_ibr checks that the name is free, then creates the
// account: with storage that yields in between, the second would overwrite
// the first one's password).
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const BEING_USED = { type: "wait", condition: "resource-constraint", text: "This invite is being used by another registration, please try again later" };

describe.each(prosodyVersions)("claims on Prosody %s", (version) => {
	const sims = simulators();

	test("a connection dropped while its account is written: the invite is not free for another session, one account in all", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const a = sim.connect();
		const b = sim.connect();
		expect(sim.preauth(a, invite.token).attrs.type).toBe("result");
		expect(sim.preauth(b, invite.token).attrs.type).toBe("result");
		sim.storage.setYielding(true);
		sim.submit(a, sim.registerIq("alice")); // stops at its first storage call
		sim.close(a); // the connection is reset mid-registration
		sim.submit(b, sim.registerIq("bob"));
		sim.run();
		sim.storage.setYielding(false);
		expect([sim.userExists("alice"), sim.userExists("bob")].filter(Boolean)).toHaveLength(1);
		expect(sim.userExists("bob")).toBe(false);
		expect(stanzaError(sim.take(b).find((s) => s.name === "iq"))).toEqual(BEING_USED);
		expect(sim.invites.isValid(invite.token)).toBe(false);
	});

	test("a connection dropped after its registration failed frees the invite at once", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const a = sim.connect();
		sim.preauth(a, invite.token);
		sim.storage.fail("accounts", "error", "set");
		expect(sim.register(a, "alice").attrs.type).toBe("error"); // answered: the attempt is over
		sim.storage.fail("accounts", undefined);
		sim.close(a);
		const b = sim.connect();
		sim.preauth(b, invite.token);
		expect(sim.register(b, "bob").attrs.type).toBe("result");
	});

	test("an unanswered registration of a closed session holds the invite for invite_registration_timeout seconds at most", () => {
		const sim = sims.create({ version, config: { invite_registration_timeout: 30 } });
		const invite = sim.invites.createAccount();
		const a = sim.connect();
		sim.preauth(a, invite.token);
		sim.storage.setYielding(true);
		sim.submit(a, sim.registerIq("alice"));
		// Step a's registration to its account write (past the claim), then never resume it: as if its storage hung.
		sim.call(`
			local before = sim.storage.writes.accounts or 0;
			local co = table.remove(sim.waiting);
			while (sim.storage.writes.accounts or 0) == before do
				sim:_resume(co);
				co = table.remove(sim.waiting);
			end
			sim.hung = co;`);
		sim.close(a);
		sim.storage.setYielding(false);
		const b = sim.connect();
		sim.preauth(b, invite.token);
		expect(stanzaError(sim.register(b, "bob"))).toEqual(BEING_USED);
		sim.advance(30);
		expect(sim.register(b, "bob").attrs.type).toBe("result");
	});

	test("two invites, one new name, storage yielding: one account, the other refused with conflict, its invite unused, no password overwritten", () => {
		const sim = sims.create({ version });
		const first = sim.invites.createAccount();
		const second = sim.invites.createAccount();
		const a = sim.connect();
		const b = sim.connect();
		sim.preauth(a, first.token);
		sim.preauth(b, second.token);
		sim.storage.setYielding(true);
		sim.submit(a, sim.registerIq("alice", "first-password"));
		sim.submit(b, sim.registerIq("alice", "second-password"));
		sim.run();
		sim.storage.setYielding(false);
		const [toA, toB] = [sim.take(a), sim.take(b)].map((received) => received.find((s) => s.name === "iq"));
		expect([toA?.attrs.type, toB?.attrs.type].sort()).toEqual(["error", "result"]);
		expect(stanzaError(toA?.attrs.type === "error" ? toA : toB)).toEqual({
			type: "cancel",
			condition: "conflict",
			text: "The username 'alice' is being registered by someone else",
		});
		// The winner's password works, and only that one: nothing was overwritten.
		const [won, lost] = toA?.attrs.type === "result" ? ["first-password", "second-password"] : ["second-password", "first-password"];
		expect(sim.testPassword("alice", won)).toBe(true);
		expect(sim.testPassword("alice", lost)).toBe(false);
		// The refused registration's invite stays unused.
		expect(sim.invites.isValid(toA?.attrs.type === "result" ? second.token : first.token)).toBe(true);
		expect(sim.invites.isValid(toA?.attrs.type === "result" ? first.token : second.token)).toBe(false);
	});

	test("open registration without invite: two registrations of one name, storage yielding: one account, no overwritten password", () => {
		const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
		const a = sim.connect();
		const b = sim.connect();
		sim.storage.setYielding(true);
		sim.submit(a, sim.registerIq("carol", "first-password"));
		sim.submit(b, sim.registerIq("carol", "second-password"));
		sim.run();
		sim.storage.setYielding(false);
		const replies = [...sim.take(a), ...sim.take(b)].filter((s) => s.name === "iq");
		expect(replies.map((r) => r.attrs.type).sort()).toEqual(["error", "result"]);
		expect(sim.testPassword("carol", "first-password")).toBe(true); // the first to register keeps it
	});

	test("a name's claim ends once its registration is answered: a failed registration does not block the name", () => {
		const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
		const a = sim.connect();
		sim.storage.fail("accounts", "error", "set");
		expect(sim.register(a, "dave").attrs.type).toBe("error");
		sim.storage.fail("accounts", undefined);
		expect(sim.register(sim.connect(), "dave").attrs.type).toBe("result");
	});

	test("a failed web registration frees its invite within seconds", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		sim.storage.fail("accounts", "error", "set");
		expect(() => sim.webRegister(invite.token, "erin")).toThrow(); // the account could not be created
		sim.storage.fail("accounts", undefined);
		const client = sim.connect();
		sim.preauth(client, invite.token);
		expect(stanzaError(sim.register(client, "erin2"))).toEqual(BEING_USED);
		sim.advance(10);
		expect(sim.register(client, "erin").attrs.type).toBe("result");
	});
});
