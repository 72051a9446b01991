// XEP-0379: a subscription request carrying a token the user issued is
// approved as if the user had approved it; anything else takes Prosody's
// normal subscription path untouched.
import type { Element } from "ltx";
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { named } from "../../harness/clients/stanzas.js";

const ALICE = "alice@example.com";
const REMOTE = "bob@remote.example";

function subscribeWith(from: string, to: string, token?: string): string {
	const preauth = token === undefined ? "" : `<preauth xmlns='urn:xmpp:pars:0' token='${token}'/>`;
	return `<presence type='subscribe' from='${from}' to='${to}'>${preauth}</presence>`;
}

function presences(stanzas: Element[], type?: string): Element[] {
	return named(stanzas, "presence").filter((p) => p.attrs.type === type);
}

/** alice exists; a contact invite of hers (without registration rights unless `ibr`). */
function aliceWithInvite(sim: ProsodySim, ibr = false) {
	sim.createUser("alice");
	return sim.invites.createContact("alice", ibr);
}

describe.each(prosodyVersions)("XEP-0379 on Prosody %s", (version) => {
	const sims = simulators();

	describe("a valid token from a remote contact", () => {
		test("with alice offline: approved, told, and asked back", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
			expect(sim.rosterItem("alice", REMOTE)).toMatchObject({ subscription: "from", ask: "subscribe" });
			expect(sim.pendingIn("alice", REMOTE)).toBe(false);
			const out = sim.takeRemote();
			expect(presences(out, "subscribed").map((p) => [p.attrs.from, p.attrs.to])).toEqual([[ALICE, REMOTE]]);
			expect(presences(out, "unavailable").map((p) => p.attrs.from)).toEqual([ALICE]);
			expect(presences(out, "subscribe").map((p) => [p.attrs.from, p.attrs.to])).toEqual([[ALICE, REMOTE]]);
			expect(sim.stored("invite_token", "alice")).toBeUndefined(); // used
		});

		test("with alice online: her clients get roster pushes, not a request to approve", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			const phone = sim.login("alice", "phone", { available: true });
			sim.takeRemote();
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
			const received = sim.take(phone);
			expect(presences(received, "subscribe")).toEqual([]);
			const pushed = named(received, "iq", "set").map((iq) => iq.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs);
			expect(pushed.at(-1)).toMatchObject({ jid: REMOTE, subscription: "from", ask: "subscribe" });
			const out = sim.takeRemote();
			expect(presences(out, "subscribed")).toHaveLength(1);
			// her available presence, from her resource
			expect(presences(out, undefined).map((p) => p.attrs.from)).toEqual([`${ALICE}/phone`]);
			expect(presences(out, "subscribe")).toHaveLength(1);
		});
	});

	describe("a valid token from a local contact", () => {
		test("with alice offline, bob's own roster ends subscribed (Prosody's stock module leaves it pending)", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			sim.createUser("bob");
			const bob = sim.login("bob", "laptop", { available: true });
			const received = sim.send(bob, `<presence type='subscribe' to='${ALICE}'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
			expect(sim.rosterItem("bob", ALICE)).toMatchObject({ subscription: "to" });
			expect(sim.rosterItem("bob", ALICE)?.ask).toBeUndefined();
			expect(sim.rosterItem("alice", "bob@example.com")).toMatchObject({ subscription: "from", ask: "subscribe" });
			expect(presences(received, "subscribed").map((p) => p.attrs.from)).toEqual([ALICE]);
			// alice's request back reaches bob
			expect(presences(received, "subscribe").map((p) => p.attrs.from)).toEqual([ALICE]);
			expect(sim.pendingIn("bob", ALICE)).toBe(true);
		});

		test("becomes mutual once bob approves alice's request", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			sim.createUser("bob");
			const bob = sim.login("bob", "laptop", { available: true });
			sim.send(bob, `<presence type='subscribe' to='${ALICE}'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
			sim.send(bob, `<presence type='subscribed' to='${ALICE}'/>`);
			expect(sim.rosterItem("bob", ALICE)).toMatchObject({ subscription: "both" });
			expect(sim.rosterItem("alice", "bob@example.com")).toMatchObject({ subscription: "both" });
		});

		test("with alice online, bob also gets her available presence", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			sim.login("alice", "phone", { available: true });
			sim.createUser("bob");
			const bob = sim.login("bob", "laptop", { available: true });
			const received = sim.send(bob, `<presence type='subscribe' to='${ALICE}'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
			expect(presences(received, "subscribed")).toHaveLength(1);
			expect(presences(received, undefined).map((p) => p.attrs.from)).toContain(`${ALICE}/phone`);
		});
	});

	test("a contact invite with registration rights (ibr=y) also pre-approves, and cannot register afterwards", () => {
		const sim = sims.create({ version });
		const invite = aliceWithInvite(sim, true);
		sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
		expect(sim.rosterItem("alice", REMOTE)).toMatchObject({ subscription: "from" });
		expect(sim.preauth(sim.connect(), invite.token).attrs.type).toBe("error");
	});

	test("a used token is not accepted a second time", () => {
		const sim = sims.create({ version });
		const invite = aliceWithInvite(sim);
		sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
		sim.receiveRemote(subscribeWith("eve@remote.example", ALICE, invite.token));
		expect(sim.rosterItem("alice", "eve@remote.example")).toBeUndefined();
		expect(sim.pendingIn("alice", "eve@remote.example")).toBe(true); // an ordinary request for alice to answer
	});

	describe("anything else takes the normal path, untouched", () => {
		function normalPath(sim: ProsodySim, from: string, stanza: string) {
			const phone = sim.login("alice", "phone", { available: true });
			sim.takeRemote();
			sim.receiveRemote(stanza);
			return { forwarded: presences(sim.take(phone), "subscribe").map((p) => p.attrs.from), pending: sim.pendingIn("alice", from), item: sim.rosterItem("alice", from), out: sim.takeRemote() };
		}

		test.each([
			["an unknown token", "NotATokenAliceEverIssued"],
			["a malformed token", "x".repeat(300)],
			["an empty token", ""],
		])("%s: alice is asked, as without a token", (_what, token) => {
			const sim = sims.create({ version });
			aliceWithInvite(sim);
			const withToken = normalPath(sim, REMOTE, subscribeWith(REMOTE, ALICE, token));
			expect(withToken.forwarded).toEqual([REMOTE]);
			expect(withToken.pending).toBe(true);
			expect(withToken.item).toBeUndefined();
			expect(presences(withToken.out, "subscribed")).toEqual([]);
		});

		test("an unknown token is looked up in alice's own invite store only: the host's (every pending invite) is not read", () => {
			const sim = sims.create({ version });
			aliceWithInvite(sim);
			const before = sim.hostReads("invite_token");
			expect(normalPath(sim, REMOTE, subscribeWith(REMOTE, ALICE, "NotATokenAliceEverIssued")).forwarded).toEqual([REMOTE]);
			expect(sim.hostReads("invite_token") - before).toBe(0);
		});

		test("the result is the same as for a request without any token", () => {
			const simA = sims.create({ version });
			aliceWithInvite(simA);
			const withBadToken = normalPath(simA, REMOTE, subscribeWith(REMOTE, ALICE, "NotATokenAliceEverIssued"));
			const simB = sims.create({ version });
			aliceWithInvite(simB);
			const withoutToken = normalPath(simB, REMOTE, subscribeWith(REMOTE, ALICE));
			expect(withBadToken.forwarded).toEqual(withoutToken.forwarded);
			expect(withBadToken.pending).toEqual(withoutToken.pending);
			expect(withBadToken.out.map(String)).toEqual(withoutToken.out.map(String));
		});

		test("an expired token", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false, undefined, 60);
			sim.advance(61);
			expect(normalPath(sim, REMOTE, subscribeWith(REMOTE, ALICE, invite.token)).forwarded).toEqual([REMOTE]);
		});

		test("a token of another user", () => {
			const sim = sims.create({ version });
			sim.createUser("carol");
			const carols = sim.invites.createContact("carol", false);
			aliceWithInvite(sim);
			expect(normalPath(sim, REMOTE, subscribeWith(REMOTE, ALICE, carols.token)).forwarded).toEqual([REMOTE]);
			expect(sim.stored("invite_token", "carol")).toBeDefined(); // not used up
		});

		test("a contact already subscribed: mod_presence confirms, the invite is not used", () => {
			const sim = sims.create({ version });
			const first = aliceWithInvite(sim);
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, first.token));
			const second = sim.invites.createContact("alice", false);
			sim.takeRemote();
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, second.token));
			expect(presences(sim.takeRemote(), "subscribed")).toHaveLength(1);
			expect(sim.stored("invite_token", "alice")).toMatchObject({ [second.token]: expect.any(Number) });
		});

		test("when mod_invites' storage fails: logged, and alice is asked", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			const phone = sim.login("alice", "phone", { available: true });
			sim.storage.fail("invite_token", "raise");
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
			expect(presences(sim.take(phone), "subscribe").map((p) => p.attrs.from)).toEqual([REMOTE]);
			expect(sim.logs("error").some((e) => e.source.includes("invites_register"))).toBe(true);
		});

		test("when the roster cannot be saved: nothing half-approved is left, and the invite is not used", () => {
			const sim = sims.create({ version });
			const invite = aliceWithInvite(sim);
			sim.storage.fail("roster", "error");
			sim.receiveRemote(subscribeWith(REMOTE, ALICE, invite.token));
			sim.storage.fail("roster", undefined);
			expect(sim.rosterItem("alice", REMOTE)).toBeUndefined();
			expect(presences(sim.takeRemote(), "subscribed")).toEqual([]);
			expect(sim.stored("invite_token", "alice")).toMatchObject({ [invite.token]: expect.any(Number) });
		});
	});

	test("other presence passes through without being looked at", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const phone = sim.login("alice", "phone", { available: true });
		sim.receiveRemote(`<presence from='${REMOTE}/x' to='${ALICE}'><preauth xmlns='urn:xmpp:pars:0' token='whatever'/></presence>`);
		expect(named(sim.take(phone), "presence").map((p) => p.attrs.from)).toEqual([`${REMOTE}/x`]);
	});
});
