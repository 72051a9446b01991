// End to end: a real client registers on a real Prosody 0.12 and 13, with
// file and SQLite storage, through the built module.
import { serverMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

describe.each(serverMatrix)("registration on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage });
	const { open, login } = useConnections(server);

	test("stream features: nothing before TLS, both invite features after", async () => {
		const client = await open();
		const [beforeTls, afterTls] = client.features;
		expect(beforeTls.getChild("starttls", "urn:ietf:params:xml:ns:xmpp-tls")).toBeDefined();
		expect(beforeTls.getChild("register", "urn:xmpp:ibr-token:0")).toBeUndefined();
		expect(beforeTls.getChild("register", "urn:xmpp:invite")).toBeUndefined();
		expect(afterTls.getChild("register", "urn:xmpp:ibr-token:0")).toBeDefined();
		expect(afterTls.getChild("register", "urn:xmpp:invite")).toBeDefined();
	});

	test("preauth, registration, then login with the new account", async () => {
		const invite = await server().createAccountInvite();
		const name = uniqueName("alice");
		const client = await open();
		expect((await client.preauth(invite.token)).attrs.type).toBe("result");
		expect((await client.register(name, "correct horse")).attrs.type).toBe("result");
		await client.login(name, "correct horse");
		expect(await client.roster()).toEqual(new Map());
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});

	test("registration without a token is refused", async () => {
		const name = uniqueName("mallory");
		const client = await open();
		expect(stanzaError(await client.register(name, "pw"))).toEqual({
			type: "cancel",
			condition: "forbidden",
			text: "Registration on this server is through invitation only",
		});
		expect(await server().userExists(name)).toBe(false);
	});

	test("unknown, expired and used tokens are refused at preauth: item-not-found", async () => {
		const invalid = { type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" };
		const client = await open();
		expect(stanzaError(await client.preauth("NoSuchTokenEverExisted00"))).toEqual(invalid);
		const expired = await server().createAccountInvite(undefined, undefined, -1);
		expect(stanzaError(await client.preauth(expired.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token has expired" });
		const used = await server().createAccountInvite();
		const first = await open();
		await first.preauth(used.token);
		expect((await first.register(uniqueName("first"), "pw")).attrs.type).toBe("result");
		expect(stanzaError(await client.preauth(used.token))).toEqual(invalid);
	});

	test("malformed preauth IQs get errors and leave the server healthy", async () => {
		const client = await open();
		expect(stanzaError(await client.preauth(undefined))).toEqual({ type: "modify", condition: "bad-request", text: "The invite token is missing" });
		expect(stanzaError(await client.preauth(""))).toEqual({ type: "modify", condition: "bad-request", text: "The invite token is missing" });
		expect(stanzaError(await client.preauth("x".repeat(4000)))).toEqual({ type: "modify", condition: "bad-request", text: "The invite token is malformed" });
		expect(stanzaError(await client.preauth("not a token <&>"))).toEqual({ type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" });
		const invite = await server().createAccountInvite();
		// the session still works, and the invite was not used by any of that;
		// a get is taken as a set, as Prosody's own module does
		expect((await client.preauth(invite.token, "get")).attrs.type).toBe("result");
		expect((await client.register(uniqueName("sturdy"), "pw")).attrs.type).toBe("result");
	});

	test("an invite for one username registers only that username", async () => {
		const name = uniqueName("bound");
		const invite = await server().createAccountInvite(name);
		const client = await open();
		await client.preauth(invite.token);
		expect(stanzaError(await client.register(uniqueName("other"), "pw"))).toMatchObject({
			condition: "not-acceptable",
			text: `This invite is only valid for the username '${name}'`,
		});
		expect((await client.register(name, "pw")).attrs.type).toBe("result");
	});

	test("a reset invite resets its own account's password and creates no account", async () => {
		const name = uniqueName("forgetful");
		await server().createUser(name, "old password");
		const invite = await server().createResetInvite(name);
		const client = await open();
		await client.preauth(invite.token);
		const stranger = uniqueName("stranger");
		expect(stanzaError(await client.register(stranger, "pw"))?.condition).toBe("not-acceptable");
		expect(await server().userExists(stranger)).toBe(false);
		expect((await client.register(name, "new password")).attrs.type).toBe("result");
		await client.close();
		const relogged = await login(name, "new password");
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});

	test("two sessions racing one single-use invite create one account", async () => {
		const invite = await server().createAccountInvite();
		const [a, b] = await Promise.all([open(), open()]);
		await Promise.all([a.preauth(invite.token), b.preauth(invite.token)]);
		const names = [uniqueName("racer"), uniqueName("racer")];
		const replies = await Promise.all([a.register(names[0], "pw"), b.register(names[1], "pw")]);
		expect(replies.map((r) => r.attrs.type).sort()).toEqual(["error", "result"]);
		const created = await Promise.all(names.map((n) => server().userExists(n)));
		expect(created.filter(Boolean)).toHaveLength(1);
	});

	test("roles and groups of the invite are applied", async () => {
		const roles = version === "0.12" ? { "prosody:admin": true } : ["prosody:member", "prosody:admin"];
		const invite = await server().createGroupInvite(["crew"], { roles });
		const name = uniqueName("crewman");
		const client = await open();
		await client.preauth(invite.token);
		expect((await client.register(name, "pw")).attrs.type).toBe("result");
		expect(await server().mapStore("groups", "crew", name)).toBe(true);
		expect(await server().rolesOf(name)).toEqual(
			version === "0.12" ? { set: ["prosody:admin"] } : { primary: "prosody:member", secondary: ["prosody:admin"] },
		);
	});
});

describe.each(serverMatrix)("open registration on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage, config: { registration_invite_only: false } });
	const { open } = useConnections(server);

	test("registers without an invite", async () => {
		const client = await open();
		const name = uniqueName("walkin");
		expect((await client.register(name, "pw")).attrs.type).toBe("result");
		expect(await server().userExists(name)).toBe(true);
	});

	test("registers with an invite, using it", async () => {
		const invite = await server().createAccountInvite();
		const client = await open();
		await client.preauth(invite.token);
		expect((await client.register(uniqueName("invited"), "pw")).attrs.type).toBe("result");
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});
});
