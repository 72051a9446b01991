// End to end: registration on the web with an invite, through the
// community module mod_invites_register_web (Debian's prosody-modules) and
// the built module, on a real Prosody 0.12 and 13, file and SQLite
// storage, invite-only and open; and the reservation of invited usernames
// for In-Band Registration without invite (open registration). How the
// page is driven and read: harness/clients/web_registration.ts.
import type { ProsodyServer } from "../../harness/server/prosody_server.js";
import { versionMatrix, uniqueName, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";
import { registerOnWeb } from "../../harness/clients/web_registration.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

// mod_password_policy (loaded with the web modules) wants 8 characters or more.
const PASSWORD = "correct horse battery staple";
const reserved = (name: string) => `The username '${name}' is reserved for an invited user`;

/** What web registration does in either mode (the web always takes an invite). */
function webRegistrationTests(server: () => ProsodyServer): void {
	test("a valid invite registers on the web: the account exists and signs in, the invite is used", async () => {
		const invite = await server().createAccountInvite();
		const name = uniqueName("webber");
		expect(await registerOnWeb(server(), invite.token, name, PASSWORD)).toEqual({ status: 200, successful: true });
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		const client = await Connection.login(server(), name, PASSWORD);
		await client.close();
		// the used invite no longer gives a form: the page sends the browser to the invite page
		expect(await registerOnWeb(server(), invite.token, uniqueName("again"), PASSWORD)).toEqual({ status: 303, successful: false, redirectedTo: "/invites_page" });
	});

	test("an invite for one username refuses another name, and registers its own", async () => {
		const name = uniqueName("bound");
		const invite = await server().createAccountInvite(name);
		const other = uniqueName("other");
		expect(await registerOnWeb(server(), invite.token, other, PASSWORD)).toEqual({
			status: 200,
			successful: false,
			errorText: `This invite is only valid for the username '${name}'`,
		});
		expect(await server().userExists(other)).toBe(false);
		expect(await registerOnWeb(server(), invite.token, name, PASSWORD)).toEqual({ status: 200, successful: true });
		expect(await server().userExists(name)).toBe(true);
	});

	test("an invite whose creator no longer stands is refused on the web as in-band (0.12: deleted by prosodyctl; 13: disabled)", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, PASSWORD);
		const invite = await server().createAccountInvite(undefined, { source: `${alice}@localhost` });
		if (server().options.version === "0.12") {
			await server().deluserWithProsodyctl(alice);
		} else {
			await server().disableUser(alice);
		}
		const bob = uniqueName("bob");
		expect(await registerOnWeb(server(), invite.token, bob, PASSWORD)).toEqual({ status: 200, successful: false, errorText: "This invite is no longer valid" });
		expect(await server().userExists(bob)).toBe(false);
		const client = await Connection.open(server());
		expect(stanzaError(await client.preauth(invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "This invite is no longer valid" });
		await client.close();
	});

	test("a username reserved by a pending invite is refused with another invite, the page says why; its own invite registers it", async () => {
		const alice = uniqueName("alice");
		const own = await server().createAccountInvite(alice);
		const other = await server().createAccountInvite();
		expect(await registerOnWeb(server(), other.token, alice, PASSWORD)).toEqual({ status: 200, successful: false, errorText: reserved(alice) });
		expect(await server().userExists(alice)).toBe(false);
		expect(await server().inviteIsValid(other.token)).toBe(true);
		expect(await registerOnWeb(server(), own.token, alice, PASSWORD)).toEqual({ status: 200, successful: true });
		expect(await server().userExists(alice)).toBe(true);
		// the other invite is still good for another name
		expect(await registerOnWeb(server(), other.token, uniqueName("bob"), PASSWORD)).toEqual({ status: 200, successful: true });
	});
}

describe.each(versionMatrix)("web registration on Prosody %s with %s storage", (version, storage) => {
	describe("invite-only registration", () => {
		const server = useServer({ version, storage, web: true });
		webRegistrationTests(server);
	});

	describe("open registration", () => {
		const server = useServer({ version, storage, web: true, config: { registration_invite_only: false } });
		webRegistrationTests(server);

		test("In-Band Registration without invite: a name reserved by a pending invite is refused (conflict) until the invite is revoked", async () => {
			const carol = uniqueName("carol");
			const invite = await server().createAccountInvite(carol);
			const client = await Connection.open(server());
			try {
				expect(stanzaError(await client.register(carol, PASSWORD))).toEqual({ type: "cancel", condition: "conflict", text: reserved(carol) });
				expect(await server().userExists(carol)).toBe(false);
				const walkin = uniqueName("walkin");
				expect((await client.register(walkin, PASSWORD)).attrs.type).toBe("result");
				expect(await server().userExists(walkin)).toBe(true);
			} finally {
				await client.close();
			}
			await server().deleteInvite(invite.token);
			const later = await Connection.open(server());
			try {
				expect((await later.register(carol, PASSWORD)).attrs.type).toBe("result");
				expect(await server().userExists(carol)).toBe(true);
			} finally {
				await later.close();
			}
		});
	});
});
