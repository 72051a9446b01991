// Invalid invite tokens are limited before any storage lookup: per session
// (then refused, then the session closed), per IP address across sessions,
// and per sender and remote domain for XEP-0379 requests. A typo or two
// still works, a valid token is never slowed, tokens no mod_invites makes
// are refused without lookup, and a refusal is logged once, without token.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim, Session } from "../../harness/sim/prosody_sim.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const LIMITED = { type: "wait", condition: "resource-constraint", text: "Too many invalid invite tokens, please check your invite and try again later" };
const INVALID = { type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" };

let bogus = 0;
/** A made-up token of the right shape (24 base64url characters). */
function madeUp(): string {
	bogus += 1;
	return `MadeUpToken${String(bogus).padStart(13, "0")}`;
}

/** Presents `token`; returns the error (or undefined for a result) and how many storage calls it made. */
function present(sim: ProsodySim, client: Session, token: string) {
	const before = sim.storageCalls();
	const reply = sim.preauth(client, token);
	return { error: stanzaError(reply), reads: sim.storageCalls() - before };
}

describe.each(prosodyVersions)("limits on invalid invite tokens on Prosody %s", (version) => {
	const sims = simulators();

	describe("per session", () => {
		test("a typo or two still lets the right token through", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			expect(present(sim, client, madeUp()).error).toEqual(INVALID);
			expect(present(sim, client, madeUp()).error).toEqual(INVALID);
			expect(present(sim, client, invite.token).error).toBeUndefined();
			expect(sim.register(client, "alice").attrs.type).toBe("result");
		});

		test("after 5 invalid tokens, further ones are refused without a lookup, then the session is closed", () => {
			const sim = sims.create({ version });
			const client = sim.connect();
			for (let i = 0; i < 5; i++) {
				const attempt = present(sim, client, madeUp());
				expect(attempt.error).toEqual(INVALID);
				expect(attempt.reads).toBeGreaterThan(0);
			}
			for (let i = 0; i < 4; i++) {
				expect(present(sim, client, madeUp())).toEqual({ error: LIMITED, reads: 0 });
				expect(sim.sessionField(client, "destroyed")).toBeUndefined();
			}
			expect(present(sim, client, madeUp())).toEqual({ error: LIMITED, reads: 0 });
			expect(sim.sessionField(client, "destroyed")).toBe(true);
		});

		test("a limited session still gets a pending invite's token checked: an invitee who mistyped is not locked out", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			for (let i = 0; i < 5; i++) present(sim, client, madeUp());
			expect(present(sim, client, madeUp())).toEqual({ error: LIMITED, reads: 0 });
			expect(present(sim, client, invite.token).error).toBeUndefined();
			expect(sim.register(client, "alice").attrs.type).toBe("result");
		});

		test("is logged once at info level, without any token", () => {
			const sim = sims.create({ version });
			const client = sim.connect();
			for (let i = 0; i < 8; i++) present(sim, client, madeUp());
			const lines = sim.logs("info").filter((e) => e.message.includes("invalid invite tokens"));
			expect(lines).toHaveLength(1);
			expect(lines[0].message).toMatch(/^Session \S+ presented 5 invalid invite tokens/);
			expect(lines[0].message).not.toContain("MadeUpToken");
		});

		test("can be set with invite_token_session_failures", () => {
			const sim = sims.create({ version, config: { invite_token_session_failures: 2 } });
			const client = sim.connect();
			present(sim, client, madeUp());
			present(sim, client, madeUp());
			expect(present(sim, client, madeUp())).toEqual({ error: LIMITED, reads: 0 });
			present(sim, client, madeUp());
			expect(sim.sessionField(client, "destroyed")).toBe(true);
		});
	});

	describe("per IP address, across sessions", () => {
		test("10 invalid tokens spend the address's budget; other addresses are not affected; it refills over a minute", () => {
			const sim = sims.create({ version });
			for (let i = 0; i < 10; i++) {
				expect(present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp()).error).toEqual(INVALID);
			}
			expect(present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp())).toEqual({ error: LIMITED, reads: 0 });
			expect(present(sim, sim.connect({ ip: "192.0.2.2" }), madeUp()).error).toEqual(INVALID);
			sim.advance(6); // one failure's worth (10 per 60 s)
			expect(present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp()).error).toEqual(INVALID);
			expect(present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp())).toEqual({ error: LIMITED, reads: 0 });
			const lines = sim.logs("info").filter((e) => e.message.includes("(address budget) from 192.0.2.1"));
			expect(lines).toHaveLength(2); // once each time it ran out
		});

		test("IPv6: the addresses of one /64 share one budget (a host can take any of them); another /64 has its own", () => {
			const sim = sims.create({ version });
			for (let i = 0; i < 10; i++) {
				expect(present(sim, sim.connect({ ip: `2001:db8:aa:bb::${(i + 1).toString(16)}` }), madeUp()).error).toEqual(INVALID);
			}
			expect(present(sim, sim.connect({ ip: "2001:db8:aa:bb:1234:5678:9abc:def0" }), madeUp())).toEqual({ error: LIMITED, reads: 0 });
			expect(present(sim, sim.connect({ ip: "2001:db8:aa:bc::1" }), madeUp()).error).toEqual(INVALID);
			expect(sim.logs("info").some((e) => e.message.includes("(address budget) from 2001:db8:aa:bb::/64"))).toBe(true);
		});

		test("IPv4-mapped IPv6 addresses count as their IPv4 address; invite_token_ipv6_prefix sets the prefix", () => {
			const sim = sims.create({ version, config: { invite_token_ipv6_prefix: 48 } });
			for (let i = 0; i < 10; i++) present(sim, sim.connect({ ip: "::ffff:192.0.2.50" }), madeUp());
			expect(present(sim, sim.connect({ ip: "192.0.2.50" }), madeUp())).toEqual({ error: LIMITED, reads: 0 });
			for (let i = 0; i < 10; i++) present(sim, sim.connect({ ip: `2001:db8:cc:${i.toString(16)}::1` }), madeUp());
			expect(present(sim, sim.connect({ ip: "2001:db8:cc:ffff::1" }), madeUp())).toEqual({ error: LIMITED, reads: 0 });
		});

		test("an invitee on an address that spent its budget still gets in with a pending invite", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			for (let i = 0; i < 10; i++) present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp());
			const invitee = sim.connect({ ip: "192.0.2.1" });
			expect(present(sim, invitee, invite.token).error).toBeUndefined();
			expect(sim.register(invitee, "alice").attrs.type).toBe("result");
		});

		test("an invite written by another process is known after invite_reservation_refresh seconds", () => {
			const sim = sims.create({ version, config: { invite_reservation_refresh: 10 } });
			for (let i = 0; i < 10; i++) present(sim, sim.connect({ ip: "192.0.2.1" }), madeUp());
			const elsewhere = sim.invites.createElsewhere("alice");
			expect(present(sim, sim.connect({ ip: "192.0.2.1" }), elsewhere.token)).toEqual({ error: LIMITED, reads: 0 });
			sim.advance(10);
			expect(present(sim, sim.connect({ ip: "192.0.2.1" }), elsewhere.token).error).toBeUndefined();
		});

		test("valid tokens do not spend it", () => {
			const sim = sims.create({ version });
			for (let i = 0; i < 15; i++) {
				const invite = sim.invites.createAccount();
				expect(present(sim, sim.connect({ ip: "192.0.2.1" }), invite.token).error).toBeUndefined();
			}
		});
	});

	test("tokens no mod_invites makes are refused as invalid without a lookup, and cost no budget", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		for (const token of ["has spaces in it", "tök€n", "a/b+c=", "<script>"]) {
			expect(present(sim, client, token)).toEqual({ error: INVALID, reads: 0 });
		}
		for (let i = 0; i < 6; i++) present(sim, client, "not-base64url!");
		expect(present(sim, client, invite.token).error).toBeUndefined();
	});

	test("all clients of the host together have a ceiling; a pending invite's token is still checked above it", () => {
		const sim = sims.create({ version, config: { invite_token_host_failures: 5 } });
		const invite = sim.invites.createAccount();
		// Each from an address of its own: no address budget runs out.
		for (let i = 0; i < 5; i++) expect(present(sim, sim.connect({ ip: `192.0.2.${i + 1}` }), madeUp()).error?.condition).toBe("item-not-found");
		const late = sim.connect({ ip: "198.51.100.7" });
		expect(present(sim, late, madeUp())).toEqual({ error: LIMITED, reads: 0 });
		expect(present(sim, late, invite.token).error).toBeUndefined();
	});

	describe("XEP-0379 requests", () => {
		const ALICE = "alice@example.com";
		const subscribe = (from: string, token: string) => `<presence type='subscribe' from='${from}' to='${ALICE}'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></presence>`;

		test("over a sender's budget, its tokens are not checked: the request takes the normal path", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			for (let i = 0; i < 10; i++) sim.receiveRemote(subscribe("mallory@remote.example", madeUp()));
			const before = sim.storageCalls();
			sim.receiveRemote(subscribe("mallory@remote.example", invite.token));
			expect(sim.pendingIn("alice", "mallory@remote.example")).toBe(true); // left to alice, as without token
			expect(sim.rosterItem("alice", "mallory@remote.example")?.subscription ?? "none").toBe("none");
			expect(sim.invites.isValid(invite.token) || sim.stored("invite_token", "alice") !== undefined).toBe(true);
			expect(sim.storageCalls() - before).toBeGreaterThan(0); // mod_presence stored the pending request
			// Another sender of the same server still has its budget.
			sim.receiveRemote(subscribe("bob@remote.example", invite.token));
			expect(sim.rosterItem("alice", "bob@remote.example")).toMatchObject({ subscription: "from" });
		});

		test("over a remote server's budget, none of its senders' tokens are checked", () => {
			const sim = sims.create({ version, config: { invite_token_domain_failures: 3 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			for (let i = 0; i < 3; i++) sim.receiveRemote(subscribe(`sender${i}@spam.example`, madeUp()));
			sim.receiveRemote(subscribe("honest@spam.example", invite.token));
			expect(sim.rosterItem("alice", "honest@spam.example")?.subscription ?? "none").toBe("none");
			sim.receiveRemote(subscribe("bob@remote.example", invite.token));
			expect(sim.rosterItem("alice", "bob@remote.example")).toMatchObject({ subscription: "from" });
		});

		const approved = (sim: ProsodySim, from: string) => sim.rosterItem("alice", from)?.subscription === "from";

		test("requests over an outgoing (bidirectional) connection count against their server as over an incoming one", () => {
			const sim = sims.create({ version, config: { invite_token_domain_failures: 3 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			for (let i = 0; i < 3; i++) sim.receiveRemote(subscribe(`sender${i}@spam.example`, madeUp()), { type: "s2sout" });
			sim.receiveRemote(subscribe("honest@spam.example", invite.token), { type: "s2sout" });
			expect(approved(sim, "honest@spam.example")).toBe(false);
			sim.receiveRemote(subscribe("bob@remote.example", invite.token), { type: "s2sout" });
			expect(approved(sim, "bob@remote.example")).toBe(true);
		});

		test("the subdomains of one server share its budget", () => {
			const sim = sims.create({ version, config: { invite_token_domain_failures: 3 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			for (let i = 0; i < 3; i++) sim.receiveRemote(subscribe(`mallory@x${i}.spam.example`, madeUp()));
			sim.receiveRemote(subscribe("honest@fresh.spam.example", invite.token));
			expect(approved(sim, "honest@fresh.spam.example")).toBe(false);
			// Under a country code's short second level, the base domain has three labels.
			for (let i = 0; i < 3; i++) sim.receiveRemote(subscribe(`mallory@x${i}.spam.co.uk`, madeUp()));
			sim.receiveRemote(subscribe("bob@other.co.uk", invite.token));
			expect(approved(sim, "bob@other.co.uk")).toBe(true);
		});

		test("one connection that relays many domains is limited as a connection", () => {
			const sim = sims.create({ version, config: { invite_token_domain_failures: 3 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			for (let i = 0; i < 3; i++) sim.receiveRemote(subscribe(`mallory@spam${i}.example`, madeUp()), { connection: "relay" });
			sim.receiveRemote(subscribe("honest@fresh.example", invite.token), { connection: "relay" });
			expect(approved(sim, "honest@fresh.example")).toBe(false);
			sim.receiveRemote(subscribe("honest@fresh.example", invite.token), { connection: "another" });
			expect(approved(sim, "honest@fresh.example")).toBe(true);
		});

		test("all remote servers together have a ceiling: rotating domains and connections ends there", () => {
			const sim = sims.create({ version, config: { invite_token_remote_failures: 20 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", false);
			// Each from a domain (and base domain) and connection of its own.
			for (let i = 0; i < 40; i++) sim.receiveRemote(subscribe(`mallory@spam${i}.example${i}`, madeUp()));
			const lookups = sim.logs("debug").filter((l) => l.message.startsWith("Not pre-approving subscription from mallory@")).length;
			expect(lookups).toBe(20);
			sim.receiveRemote(subscribe("bob@remote.example", invite.token));
			expect(approved(sim, "bob@remote.example")).toBe(false); // the normal path: alice is asked
			expect(sim.pendingIn("alice", "bob@remote.example")).toBe(true);
			// A local sender is not a remote server: its own budget only.
			sim.createUser("carol");
			sim.send(sim.login("carol"), subscribe("carol@example.com", invite.token));
			expect(approved(sim, "carol@example.com")).toBe(true);
		});

		test("above every budget, a pending token that is not the user's (an account invite's) is looked up once, then limited like any other", () => {
			const sim = sims.create({ version, config: { invite_token_remote_failures: 20 } });
			sim.createUser("alice");
			const account = sim.invites.createAccount();
			for (let i = 0; i < 40; i++) sim.receiveRemote(subscribe(`mallory@spam${i}.example${i}`, madeUp()));
			for (let i = 0; i < 5; i++) sim.receiveRemote(subscribe(`mallory${i}@other.example`, account.token));
			const lookups = sim.logs("debug").filter((l) => l.message.startsWith("Not pre-approving subscription from mallory") && l.message.includes("@other.example")).length;
			expect(lookups).toBe(1);
			expect(sim.invites.isValid(account.token)).toBe(true);
		});

		test("above every budget, a pending invite's token (a contact invite with registration) is still checked", () => {
			const sim = sims.create({ version, config: { invite_token_remote_failures: 20 } });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			for (let i = 0; i < 40; i++) sim.receiveRemote(subscribe(`mallory@spam${i}.example${i}`, madeUp()));
			for (let i = 0; i < 10; i++) sim.receiveRemote(subscribe("bob@remote.example", madeUp()));
			sim.receiveRemote(subscribe("bob@remote.example", invite.token));
			expect(approved(sim, "bob@remote.example")).toBe(true);
		});
	});
});
