// End to end: registration with an invite as Conversations does it — the
// current app (ibr-token feature, <preauth/> to the domain, item-not-found
// is an invalid invite) and 2.12 (urn:xmpp:invite, <preauth/> without `to`)
// — on a real Prosody 0.12 and 13, file and SQLite storage. The flows, and
// what they were read from, are in harness/clients/conversations_client.ts.
import type { Element } from "ltx";
import { conversationsFlows, formLikeConversations, registerLikeConversations, registerOn, type ConversationsFlow } from "../../harness/clients/conversations_client.js";
import type { ProsodyServer } from "../../harness/server/prosody_server.js";
import { versionMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";
import { xml } from "../../harness/clients/xmpp_client.js";

const PASSWORD = "correct horse battery staple";
const INVALID = { type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" };
const EXPIRED = { type: "cancel", condition: "item-not-found", text: "The invite token has expired" };
const reservedFor = (name: string) => ({ type: "cancel", condition: "conflict", text: `The username '${name}' is reserved for an invited user` });

/** Until the server itself says the invite is no longer valid (mod_invites.get), at most 10 s. */
async function untilExpired(server: ProsodyServer, token: string): Promise<void> {
	const deadline = Date.now() + 10_000;
	while (await server.inviteIsValid(token)) {
		if (Date.now() > deadline) throw new Error("the invite did not expire");
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

describe.each(versionMatrix)("Conversations' registration on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage });
	const { login, open } = useConnections(server);

	describe.each(conversationsFlows)("$name", (flow: ConversationsFlow) => {
		const register = (token: string, username: string, password = PASSWORD) => registerLikeConversations(server(), flow, { token, username, password });

		test("a valid invite registers, and the new account signs in", async () => {
			const invite = await server().createAccountInvite();
			const name = uniqueName("newbie");
			expect(await register(invite.token, name)).toEqual({ state: "REGISTRATION_SUCCESSFUL", preauthSent: true, form: { username: "", hasPassword: true, formUsername: undefined } });
			const client = await login(name, PASSWORD);
			expect(await client.roster()).toEqual(new Map());
			expect(await server().inviteIsValid(invite.token)).toBe(false);
		});

		test("unknown, used, revoked and expired tokens are invalid invites (item-not-found)", async () => {
			const used = await server().createAccountInvite();
			expect((await register(used.token, uniqueName("first"))).state).toBe("REGISTRATION_SUCCESSFUL");
			const revoked = await server().createAccountInvite();
			await server().deleteInvite(revoked.token);
			const expired = await server().createAccountInvite(undefined, undefined, -1);
			const cases: [string, object][] = [
				["NoSuchTokenEverExisted00", INVALID],
				[used.token, INVALID],
				[revoked.token, INVALID],
				[expired.token, EXPIRED],
			];
			const names = cases.map(() => uniqueName("hopeful"));
			const outcomes = await Promise.all(cases.map(([token], i) => register(token, names[i])));
			expect(outcomes).toEqual(cases.map(([, error]) => ({ state: "REGISTRATION_INVALID_TOKEN", preauthSent: true, error })));
			expect(await Promise.all(names.map((name) => server().userExists(name)))).toEqual(names.map(() => false));
		});

		test("a username reserved by a pending invite: conflict with another invite; its own invite registers it", async () => {
			const alice = uniqueName("alice");
			const own = await server().createAccountInvite(alice);
			const other = await server().createAccountInvite();
			expect(await register(other.token, alice)).toMatchObject({ state: "REGISTRATION_CONFLICT", preauthSent: true, error: reservedFor(alice) });
			expect(await server().userExists(alice)).toBe(false);
			expect(await server().inviteIsValid(other.token)).toBe(true);
			expect((await register(own.token, alice)).state).toBe("REGISTRATION_SUCCESSFUL");
			await login(alice, PASSWORD);
			expect((await register(other.token, uniqueName("bob"))).state).toBe("REGISTRATION_SUCCESSFUL");
		});

		test("once the invite that reserved a username is revoked or has expired, anyone invited may take the name", async () => {
			const [carol, dave] = [uniqueName("carol"), uniqueName("dave")];
			const revoked = await server().createAccountInvite(carol);
			await server().createAccountInvite(dave, undefined, -1);
			const other = await server().createAccountInvite();
			expect((await register(other.token, carol)).state).toBe("REGISTRATION_CONFLICT");
			await server().deleteInvite(revoked.token);
			expect((await register(other.token, carol)).state).toBe("REGISTRATION_SUCCESSFUL");
			const another = await server().createAccountInvite();
			expect((await register(another.token, dave)).state).toBe("REGISTRATION_SUCCESSFUL");
		});

		test("the registration form carries the username of an account or reset invite, and only for that session", async () => {
			const erin = uniqueName("erin");
			const accountInvite = await server().createAccountInvite(erin);
			const unbound = await server().createAccountInvite();
			const prefilled = { username: erin, hasPassword: true, formUsername: erin };
			const blank = { username: "", hasPassword: true, formUsername: undefined };
			const forms = await Promise.all([accountInvite.token, unbound.token, undefined].map((token) => formLikeConversations(server(), flow, token)));
			expect(forms).toEqual([prefilled, blank, blank]);
			// registering the name the form carries
			expect(await register(accountInvite.token, erin)).toEqual({ state: "REGISTRATION_SUCCESSFUL", preauthSent: true, form: prefilled });

			const frank = uniqueName("frank");
			await server().createUser(frank, "old password");
			const reset = await server().createResetInvite(frank);
			expect(await formLikeConversations(server(), flow, reset.token)).toEqual({ username: frank, hasPassword: true, formUsername: frank });
			expect((await register(reset.token, frank, "new password")).state).toBe("REGISTRATION_SUCCESSFUL");
			await login(frank, "new password");
		});
	});

	test("an invite that expires between <preauth/> and registration still registers, with what it carries (both flows); a new session is refused", async () => {
		const inviter = uniqueName("inviter");
		await server().createUser(inviter, PASSWORD);
		// Valid for 1 to 2 s (mod_invites counts whole seconds): the connection
		// is ready before the invite is made, so <preauth/> follows at once.
		const TTL = 1;
		const runs = await Promise.all(
			conversationsFlows.map(async (flow) => {
				const connection = await open();
				const [invite, unused] = await Promise.all([server().createContactInvite(inviter, true, TTL), server().createContactInvite(inviter, true, TTL)]);
				const name = uniqueName("late");
				const outcome = await registerOn(connection, flow, {
					token: invite.token,
					username: name,
					password: PASSWORD,
					beforeSubmit: () => untilExpired(server(), invite.token),
				});
				return { flow, invite, unused, name, outcome };
			}),
		);
		for (const { flow, invite, unused, name, outcome } of runs) {
			expect(outcome).toMatchObject({ state: "REGISTRATION_SUCCESSFUL", preauthSent: true });
			const client = await login(name, PASSWORD);
			expect((await client.roster()).get(`${inviter}@${server().domain}`)).toEqual({ subscription: "both" });
			await untilExpired(server(), unused.token); // made in the same second, or the next
			expect(await registerLikeConversations(server(), flow, { token: unused.token, username: uniqueName("later"), password: PASSWORD })).toEqual({
				state: "REGISTRATION_INVALID_TOKEN",
				preauthSent: true,
				error: EXPIRED,
			});
			expect((await registerLikeConversations(server(), flow, { token: invite.token, username: uniqueName("later"), password: PASSWORD })).state).toBe(
				"REGISTRATION_INVALID_TOKEN",
			);
		}
		const inviterClient = await login(inviter, PASSWORD);
		const roster = await inviterClient.roster();
		for (const { name } of runs) expect(roster.get(`${name}@${server().domain}`)).toEqual({ subscription: "both" });
	});

	test("<preauth/> is answered the same with and without to='domain'", async () => {
		const client = await open();
		const withTo = async (token: string | undefined) => {
			const preauth = xml("preauth", token === undefined ? { xmlns: "urn:xmpp:pars:0" } : { xmlns: "urn:xmpp:pars:0", token });
			return client.iq(xml("iq", { type: "set", to: server().domain }, preauth) as Element);
		};
		const expired = await server().createAccountInvite(undefined, undefined, -1);
		const cases: [string | undefined, object][] = [
			["NoSuchTokenEverExisted00", INVALID],
			[expired.token, EXPIRED],
			[undefined, { type: "modify", condition: "bad-request", text: "The invite token is missing" }],
			["x".repeat(4000), { type: "modify", condition: "bad-request", text: "The invite token is malformed" }],
		];
		for (const [token, error] of cases) {
			expect(stanzaError(await withTo(token))).toEqual(error);
			expect(stanzaError(await client.preauth(token))).toEqual(error);
		}
		const valid = await server().createAccountInvite();
		expect((await withTo(valid.token)).attrs.type).toBe("result");
		expect((await client.preauth(valid.token)).attrs.type).toBe("result");
	});
});
