// <iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq>: the
// token is checked with mod_invites and a valid invite is remembered on
// the session. A token that is not valid (unknown, used, deleted, expired)
// is item-not-found (XEP-0445 §4): the only condition the current
// Conversations takes for "invalid invite".
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

describe.each(prosodyVersions)("preauth IQ on Prosody %s", (version) => {
	const sims = simulators();

	test("a valid token is accepted and remembered on the session", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		const reply = sim.preauth(client, invite.token);
		expect(reply.attrs.type).toBe("result");
		expect(reply.attrs.id).toBeDefined();
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token, type: "register" });
	});

	test("addressed to the domain (as the current Conversations sends it), a token is handled the same", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		const refused = sim.send(client, sim.preauthIq("ThisTokenWasNeverIssued0", "set", sim.host));
		expect(refused).toHaveLength(1);
		expect(stanzaError(refused[0])).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" });
		const accepted = sim.send(client, sim.preauthIq(invite.token, "set", sim.host));
		expect(accepted.map((r) => r.attrs.type)).toEqual(["result"]);
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token });
		expect(sim.register(client, "alice").attrs.type).toBe("result");
	});

	test("an unknown token is refused with a readable reason, and nothing is remembered", () => {
		const sim = sims.create({ version });
		const client = sim.connect();
		const reply = sim.preauth(client, "ThisTokenWasNeverIssued0");
		expect(stanzaError(reply)).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" });
		expect(sim.sessionField(client, "validated_invite")).toBeUndefined();
	});

	test("an unknown token costs one read of the invite store (with file storage, a parse of every pending invite), not two", () => {
		const sim = sims.create({ version });
		const client = sim.connect();
		const before = sim.hostReads("invite_token");
		expect(stanzaError(sim.preauth(client, "ThisTokenWasNeverIssued0"))?.condition).toBe("item-not-found");
		expect(sim.hostReads("invite_token") - before).toBe(1);
	});

	test("a pending invite's token costs no read beyond mod_invites' own", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		const before = sim.hostReads("invite_token");
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.hostReads("invite_token") - before).toBe(1);
	});

	test("an invite this server does not know to be pending (written by another process) costs one read, and registers", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createElsewhere(undefined);
		const client = sim.connect();
		const before = sim.hostReads("invite_token");
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.hostReads("invite_token") - before).toBe(1);
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token, type: "register", uri: invite.uri });
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.invites.isValid(invite.token)).toBe(false);
	});

	test("a contact invite made before a restart costs one read, and the invitee and inviter subscribe to each other", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		sim.call(`assert(sim.modulemanager.reload(sim.host, "invites_register"))`); // forgets what it saw made
		const client = sim.connect();
		const before = sim.hostReads("invite_token");
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.hostReads("invite_token") - before).toBe(1);
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token, type: "roster", username: "alice", inviter: "alice" });
		expect(sim.register(client, "bob").attrs.type).toBe("result");
		expect(sim.rosterItem("alice", "bob@example.com")).toMatchObject({ subscription: "both" });
		expect(sim.rosterItem("bob", "alice@example.com")).toMatchObject({ subscription: "both" });
		expect(sim.invites.isValid(invite.token)).toBe(false);
		expect(sim.stored("invite_token", "alice") ?? {}).not.toHaveProperty(invite.token);
	});

	test("on a Prosody whose mod_invites this module was not checked against, mod_invites decides (one more read), and the invite registers", () => {
		const sim = sims.create({ version });
		sim.call(`sim.prosody.version = "14.0.0"; assert(sim.modulemanager.reload(sim.host, "invites_register"))`);
		expect(sim.logs("info").some((l) => /mod_invites of Prosody 14\.0\.0 was not checked against this module/.test(l.message))).toBe(true);
		const invite = sim.invites.createElsewhere(undefined);
		const client = sim.connect();
		const before = sim.hostReads("invite_token");
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.hostReads("invite_token") - before).toBe(2);
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.invites.isValid(invite.token)).toBe(false);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))?.condition).toBe("item-not-found");
	});

	test("a record of a shape mod_invites does not write (reusable = 1) is left to mod_invites, which takes it as reusable", () => {
		const sim = sims.create({ version });
		const token = "OddShapeReusable00000000";
		sim.call(
			`local token = ...; assert(sim.storage.open(sim.host, "invite_token", "map"):set(nil, token, { type = "register", jid = sim.host, token = token, allow_registration = true, uri = "xmpp:" .. sim.host .. "?register;preauth=" .. token, created_at = sim.now, expires = sim.now + 3600, reusable = 1 }))`,
			token,
		);
		const client = sim.connect();
		expect(sim.preauth(client, token).attrs.type).toBe("result");
		expect(sim.register(client, "alice").attrs.type).toBe("result");
		expect(sim.invites.isValid(token)).toBe(true);
	});

	test("an invite made before a restart that has expired is refused as expired", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createElsewhere(undefined, 60);
		sim.advance(61);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token has expired" });
	});

	test("an expired token is refused as expired", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount(undefined, undefined, 60);
		sim.advance(61);
		const reply = sim.preauth(sim.connect(), invite.token);
		expect(stanzaError(reply)).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token has expired" });
	});

	test("a used token is refused", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const first = sim.connect();
		sim.preauth(first, invite.token);
		expect(sim.register(first, "alice").attrs.type).toBe("result");
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" });
	});

	test("a revoked token is refused", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		sim.invites.delete(invite.token);
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" });
	});

	test.each([
		["missing", undefined, "The invite token is missing"],
		["empty", "", "The invite token is missing"],
		["absurdly long", "A".repeat(5000), "The invite token is malformed"],
	])("a %s token gets bad-request", (_what, token, text) => {
		const sim = sims.create({ version });
		const client = sim.connect();
		const reply = sim.send(client, sim.preauthIq(token));
		expect(reply).toHaveLength(1);
		expect(stanzaError(reply[0])).toEqual({ type: "modify", condition: "bad-request", text });
		expect(sim.sessionField(client, "validated_invite")).toBeUndefined();
	});

	test.each([
		["with a tab", "abc\tdef"],
		["with spaces", "abc def"],
		["of other characters", "tök€n<&>'\""],
	])("a token %s is unknown to mod_invites: item-not-found", (_what, token) => {
		const sim = sims.create({ version });
		const client = sim.connect();
		expect(stanzaError(sim.send(client, sim.preauthIq(token))[0])).toMatchObject({ type: "cancel", condition: "item-not-found" });
		expect(sim.sessionField(client, "validated_invite")).toBeUndefined();
	});

	test("a get is taken as a set (as Prosody's own module does; some Snikket Android builds send one)", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		const reply = sim.send(client, sim.preauthIq(invite.token, "get"));
		expect(reply.map((r) => r.attrs.type)).toEqual(["result"]);
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token });
		expect(stanzaError(sim.send(client, sim.preauthIq("ThisTokenWasNeverIssued0", "get"))[0])?.condition).toBe("item-not-found");
	});

	test.each(["result", "error"])("a %s is never answered (RFC 6120 §8.2.3)", (type) => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		// Fire the event directly: Prosody's router only fires stanza/iq/… for get and set.
		const replies = sim.call(`
			local client, token, iq_type = ...;
			local stanza = sim.st.iq({ type = iq_type, id = "x" }):tag("preauth", { xmlns = "urn:xmpp:pars:0", token = token }):up();
			local handled = sim.prosody.hosts[sim.host].events.fire_event("stanza/iq/urn:xmpp:pars:0:preauth", { origin = client, stanza = stanza });
			return { handled = handled, replies = sim:take(client) }`, client, invite.token, type) as { handled: boolean; replies: unknown[] };
		expect(replies.handled).toBe(true);
		expect(replies.replies ?? []).toEqual([]);
		expect(sim.sessionField(client, "validated_invite")).toBeUndefined();
	});

	test("when mod_invites' storage fails, the client gets internal-server-error and the log says why", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		sim.storage.fail("invite_token", "raise");
		const reply = sim.preauth(sim.connect(), invite.token);
		expect(stanzaError(reply)).toMatchObject({ type: "wait", condition: "internal-server-error" });
		const errors = sim.logs("error").filter((e) => e.source.includes("invites_register"));
		expect(errors).toHaveLength(1);
		expect(errors[0].message).toContain("simulated storage failure");
	});

	test("a second valid token replaces the first on the session", () => {
		const sim = sims.create({ version });
		const first = sim.invites.createAccount();
		const second = sim.invites.createAccount();
		const client = sim.connect();
		sim.preauth(client, first.token);
		sim.preauth(client, second.token);
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: second.token });
	});

	test("a refused token leaves the invite the session presented before", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		sim.preauth(client, invite.token);
		sim.preauth(client, "ThisTokenWasNeverIssued0");
		expect(sim.sessionField(client, "validated_invite")).toMatchObject({ token: invite.token });
	});
});
