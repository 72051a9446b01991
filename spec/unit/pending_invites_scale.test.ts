// Pending invites at scale: nothing the server does while it serves reads
// every pending invite (mod_invites' whole store, `invite_token` read
// whole). The first load of this version reads them once, to take over the
// invites made before; later loads read only this module's own store of
// reserved usernames. Counted in the simulator's storage (wholeReads).
import type { Element } from "ltx";
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const OPEN = { config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] };
const RESERVED = { type: "cancel", condition: "conflict", text: "The username 'alice' is reserved for an invited user" };

function registerWith(sim: ProsodySim, token: string | undefined, username: string): Element {
	const client = sim.connect();
	if (token !== undefined) expect(sim.preauth(client, token).attrs.type).toBe("result");
	return sim.register(client, username);
}

function reload(sim: ProsodySim): void {
	sim.call(`assert(sim.modulemanager.reload(sim.host, "invites_register"))`);
}

describe.each(prosodyVersions)("pending invites at scale, on Prosody %s", (version) => {
	const sims = simulators();

	test("no hook reads every pending invite after the first load: preauth, registration, the form, the web, XEP-0379, presence, timers, deletions", () => {
		const sim = sims.create({ version, ...OPEN });
		const reads = () => sim.wholeReads("invite_token");
		const atLoad = reads();
		sim.createUser("carol");
		for (let i = 0; i < 20; i++) sim.invites.createAccount(`user${i}`);
		const bound = sim.invites.createAccount("alice");
		const contact = sim.invites.createContact("carol", true);
		const subscription = sim.invites.createContact("carol");
		const client = sim.connect();
		sim.preauth(client, "NoSuchTokenEverExisted00");
		expect(sim.preauth(client, bound.token).attrs.type).toBe("result");
		sim.registrationForm(client);
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(stanzaError(registerWith(sim, undefined, "user3"))?.condition).toBe("conflict");
		expect(registerWith(sim, undefined, "dave").attrs.type).toBe("result");
		expect(registerWith(sim, contact.token, "erin").attrs.type).toBe("result");
		expect(sim.webRegister(sim.invites.createAccount().token, "frank")).toEqual({ outcome: "registered" });
		sim.receiveRemote(`<presence type='subscribe' from='bob@remote.example' to='carol@example.com'><preauth xmlns='urn:xmpp:pars:0' token='${subscription.token}'/></presence>`);
		sim.receiveRemote(`<presence from='bob@remote.example' to='carol@example.com'/>`);
		sim.advance(3600); // timers due meanwhile run
		sim.advance(86400);
		sim.deleteUser("carol");
		expect(registerWith(sim, sim.invites.createAccount().token, "grace").attrs.type).toBe("result");
		expect(reads()).toBe(atLoad);
	});

	test("the first load reads every pending invite once; later loads read none of them, and the reservations hold", () => {
		const sim = sims.create({ version, ...OPEN, modules: ["presence", "register_ibr", "invites"] });
		sim.invites.createElsewhere("alice"); // made before this version ran
		sim.call(`assert(sim.modulemanager.load(sim.host, "invites_register"))`);
		expect(sim.wholeReads("invite_token")).toBe(1);
		sim.invites.createAccount("bob"); // made in the server
		reload(sim);
		reload(sim);
		expect(sim.wholeReads("invite_token")).toBe(1);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(stanzaError(registerWith(sim, undefined, "bob"))?.condition).toBe("conflict");
		expect(registerWith(sim, undefined, "carol").attrs.type).toBe("result");
	});

	test("a bound invite used before a restart reserves nothing after it", () => {
		const sim = sims.create({ version, ...OPEN });
		const invite = sim.invites.createAccount("alice");
		expect(registerWith(sim, invite.token, "alice").attrs.type).toBe("result");
		sim.deleteUser("alice");
		reload(sim);
		expect(registerWith(sim, undefined, "alice").attrs.type).toBe("result");
	});

	test("an invite made in the server before a restart is known as pending after it (checked whatever the budgets)", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount("alice");
		reload(sim);
		const client = sim.connect({ ip: "192.0.2.7" });
		for (let i = 0; i < 5; i++) sim.preauth(client, `MadeUpToken${String(i).padStart(13, "0")}`);
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
	});

	test("storage down when the module loads: every name is a temporary failure, and a timer reads again", () => {
		const sim = sims.create({ version, ...OPEN });
		sim.invites.createAccount("alice");
		sim.storage.fail("invites_register_reserved", "error");
		reload(sim);
		expect(stanzaError(registerWith(sim, undefined, "zed"))).toMatchObject({ type: "wait", condition: "internal-server-error" });
		sim.storage.fail("invites_register_reserved", undefined);
		sim.advance(10);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(registerWith(sim, undefined, "zed").attrs.type).toBe("result");
	});

	test("with invite_reservation_refresh, a timer reads every pending invite at that interval, never a request", () => {
		const sim = sims.create({ version, ...OPEN, config: { ...OPEN.config, invite_reservation_refresh: 30 } });
		const atLoad = sim.wholeReads("invite_token");
		for (let i = 0; i < 10; i++) registerWith(sim, undefined, `user${i}`);
		expect(sim.wholeReads("invite_token")).toBe(atLoad);
		sim.advance(30);
		expect(sim.wholeReads("invite_token")).toBe(atLoad + 1);
		sim.invites.createElsewhere("alice");
		sim.advance(30);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
	});

	test("expired invites are dropped from memory once an hour, without reading storage", () => {
		const sim = sims.create({ version, ...OPEN });
		for (let i = 0; i < 3; i++) sim.invites.createAccount(`user${i}`, undefined, 60);
		sim.invites.createAccount("alice", undefined, 7200);
		const calls = sim.storageCalls();
		sim.advance(3600);
		expect(sim.logs("debug").map((l) => l.message)).toContain("Dropped 3 expired invites from memory");
		expect(sim.storageCalls()).toBe(calls);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(registerWith(sim, undefined, "user1").attrs.type).toBe("result");
	});

	test("the reservations and the invites naming an account are kept in the module's own stores", () => {
		const sim = sims.create({ version });
		sim.createUser("carol");
		const bound = sim.invites.createAccount("alice");
		const contact = sim.invites.createContact("carol", true);
		expect(sim.stored("invites_register_reserved")).toEqual({ [bound.token]: { username: "alice", expires: bound.expires } });
		expect(sim.stored("invites_register_named")).toEqual({ carol: { [contact.token]: contact.expires } });
	});
});
