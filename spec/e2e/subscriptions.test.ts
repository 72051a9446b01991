// End to end: subscriptions made by invites, seen in both users' rosters
// on a real Prosody 0.12 and 13, with file and SQLite storage.
import type { Element } from "ltx";
import { versionMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { xml } from "../../harness/clients/xmpp_client.js";

function subscribeWithToken(to: string, token: string): Element {
	return xml("presence", { type: "subscribe", to }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })) as Element;
}

const isPresence = (type: string | undefined, from?: string) => (el: Element) =>
	el.name === "presence" && el.attrs.type === type && (from === undefined || el.attrs.from === from || el.attrs.from?.startsWith(`${from}/`));

describe.each(versionMatrix)("invite subscriptions on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage });
	const connections = useConnections(server);
	const login = (username: string, password = "pw") => connections.login(username, password);
	const jidOf = (username: string) => `${username}@${server().domain}`;

	test("a contact invite with registration (ibr=y) makes the new user and the inviter mutual contacts", async () => {
		const alice = uniqueName("alice");
		const bob = uniqueName("bob");
		await server().createUser(alice, "pw");
		const invite = await server().createContactInvite(alice, true);
		expect(invite.uri).toContain("ibr=y");
		const registering = await connections.open();
		await registering.preauth(invite.token);
		expect((await registering.register(bob, "pw")).attrs.type).toBe("result");
		await registering.login(bob, "pw");
		expect((await registering.roster()).get(jidOf(alice))).toEqual({ subscription: "both" });
		const aliceClient = await login(alice);
		expect((await aliceClient.roster()).get(jidOf(bob))).toEqual({ subscription: "both" });
	});

	test("XEP-0379 with the inviter offline: the contact is subscribed and asked back", async () => {
		const alice = uniqueName("alice");
		const carol = uniqueName("carol");
		await server().createUser(alice, "pw");
		await server().createUser(carol, "pw");
		const invite = await server().createContactInvite(alice, false);
		const carolClient = await login(carol);
		await carolClient.roster();
		await carolClient.available();
		await carolClient.send(subscribeWithToken(jidOf(alice), invite.token));
		await carolClient.waitFor(isPresence("subscribed", jidOf(alice)), "alice's subscribed");
		await carolClient.waitFor(isPresence("subscribe", jidOf(alice)), "alice's request back");
		expect((await carolClient.roster()).get(jidOf(alice))).toEqual({ subscription: "to" });
		const aliceClient = await login(alice);
		expect((await aliceClient.roster()).get(jidOf(carol))).toEqual({ subscription: "from", ask: "subscribe" });
	});

	test("XEP-0379 with the inviter online: her presence arrives, she is not asked to approve", async () => {
		const alice = uniqueName("alice");
		const carol = uniqueName("carol");
		await server().createUser(alice, "pw");
		await server().createUser(carol, "pw");
		const invite = await server().createContactInvite(alice, false);
		const aliceClient = await login(alice);
		await aliceClient.roster();
		await aliceClient.available();
		const carolClient = await login(carol);
		await carolClient.roster();
		await carolClient.available();
		await carolClient.send(subscribeWithToken(jidOf(alice), invite.token));
		await carolClient.waitFor(isPresence("subscribed", jidOf(alice)), "alice's subscribed");
		await carolClient.waitFor(isPresence(undefined, jidOf(alice)), "alice's available presence");
		// alice's client learns of carol through a roster push
		await aliceClient.waitFor((el) => el.name === "iq" && el.attrs.type === "set" && el.getChild("query", "jabber:iq:roster")?.getChild("item")?.attrs.jid === jidOf(carol), "roster push");
		expect(aliceClient.received.filter(isPresence("subscribe", jidOf(carol)))).toEqual([]);
		expect((await carolClient.roster()).get(jidOf(alice))).toEqual({ subscription: "to" });
		// carol approves alice's request back: mutual
		await carolClient.send(xml("presence", { type: "subscribed", to: jidOf(alice) }) as Element);
		await aliceClient.waitFor(isPresence("subscribed", jidOf(carol)), "carol's approval");
		expect((await aliceClient.roster()).get(jidOf(carol))).toEqual({ subscription: "both" });
	});

	test("XEP-0379 with an invalid token: the inviter is asked, as usual", async () => {
		const alice = uniqueName("alice");
		const carol = uniqueName("carol");
		await server().createUser(alice, "pw");
		await server().createUser(carol, "pw");
		const aliceClient = await login(alice);
		await aliceClient.roster();
		await aliceClient.available();
		const carolClient = await login(carol);
		await carolClient.send(subscribeWithToken(jidOf(alice), "NotATokenAliceEverMade00"));
		await aliceClient.waitFor(isPresence("subscribe", jidOf(carol)), "carol's request");
		expect((await carolClient.roster()).get(jidOf(alice))).toEqual({ subscription: "none", ask: "subscribe" });
	});
});
