// End to end: an invite never outlives the accounts it names, on a real
// Prosody 0.12 and 13 with file and SQLite storage. An admin deletes (or,
// on 13, disables) an inviter from the admin shell, or deletes an account
// whose name is then registered again; the old invites take over nobody.
// mod_invites_tracking (Debian's prosody-modules) still records who
// invited whom.
import type { ProsodyServer } from "../../harness/server/prosody_server.js";
import { serverMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const INVALID = { type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" };
const NO_LONGER_VALID = { type: "cancel", condition: "item-not-found", text: "This invite is no longer valid" };

/** A user-made account invite, as mod_invites_adhoc stores it (the creator's full JID in `source`). */
async function accountInviteBy(server: ProsodyServer, creator: string): Promise<{ token: string }> {
	return server.createAccountInvite(undefined, { source: `${creator}@localhost/laptop` });
}

describe.each(serverMatrix)("invites and the accounts they name, on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage, communityModules: ["invites_tracking"] });
	const { open, login } = useConnections(server);

	async function registerWith(token: string, username: string, password = "pw"): Promise<void> {
		const client = await open();
		expect((await client.preauth(token)).attrs.type).toBe("result");
		expect((await client.register(username, password)).attrs.type).toBe("result");
	}

	test("an inviter deleted from the admin shell takes their invites along: refused at <preauth/>, deleted from storage", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, "pw");
		const contact = await server().createContactInvite(alice, true);
		const account = await accountInviteBy(server(), alice);
		const other = await server().createAccountInvite();
		await server().deleteUser(alice);
		const client = await open();
		expect(stanzaError(await client.preauth(contact.token))).toEqual(INVALID);
		expect(stanzaError(await client.preauth(account.token))).toEqual(INVALID);
		expect(await server().lua(`host.modules.invites.get_account_invite_info(${JSON.stringify(account.token)}) == nil`)).toBe(true);
		// other invites are untouched
		expect(await server().inviteIsValid(other.token)).toBe(true);
	});

	test("an account deleted and its name registered again: the old reset and contact invites take over nobody", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, "old password");
		const reset = await server().createResetInvite(alice);
		const contact = await server().createContactInvite(alice, true);
		await server().deleteUser(alice);
		await registerWith((await server().createAccountInvite()).token, alice, "newcomer");
		const attacker = await open();
		expect(stanzaError(await attacker.preauth(reset.token))?.condition).toBe("item-not-found");
		expect(stanzaError(await attacker.register(alice, "taken"))?.condition).toBe("forbidden");
		expect(stanzaError(await attacker.preauth(contact.token))?.condition).toBe("item-not-found");
		const newcomer = await login(alice, "newcomer");
		expect(await newcomer.roster()).toEqual(new Map());
	});

	test("an account deleted with prosodyctl deluser while the server runs, its name registered again: the old invites take over nobody", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, "old password");
		const reset = await server().createResetInvite(alice);
		const contact = await server().createContactInvite(alice, true);
		await server().deluserWithProsodyctl(alice);
		expect(await server().userExists(alice)).toBe(false);
		await new Promise((r) => setTimeout(r, 1100)); // the newcomer's account is created in a later second than the invites
		await registerWith((await server().createAccountInvite()).token, alice, "newcomer");
		const attacker = await open();
		// 0.12: another process deleted it, the invites are still stored and void; 13: deleted through the server, with them
		const expected = version === "0.12" ? NO_LONGER_VALID : INVALID;
		expect(stanzaError(await attacker.preauth(reset.token))).toEqual(expected);
		expect(stanzaError(await attacker.preauth(contact.token))).toEqual(expected);
		const newcomer = await login(alice, "newcomer");
		expect(await newcomer.roster()).toEqual(new Map());
	});

	test("mod_invites_tracking records who invited whom", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, "pw");
		const invite = await accountInviteBy(server(), alice);
		const bob = uniqueName("bob");
		await registerWith(invite.token, bob);
		expect(await server().lua(`require "core.storagemanager".open(${JSON.stringify("localhost")}, "invites_tracking"):get(${JSON.stringify(bob)})`)).toEqual({
			invite_id: invite.token,
			invite_source: `${alice}@localhost/laptop`,
		});
	});

	if (version !== "0.12") {
		test("an inviter disabled from the admin shell: their invites are refused until the account is enabled again", async () => {
			const alice = uniqueName("alice");
			await server().createUser(alice, "pw");
			const contact = await server().createContactInvite(alice, true);
			const account = await accountInviteBy(server(), alice);
			await server().disableUser(alice);
			const client = await open();
			expect(stanzaError(await client.preauth(contact.token))).toEqual(NO_LONGER_VALID);
			expect(stanzaError(await client.preauth(account.token))).toEqual(NO_LONGER_VALID);
			await server().enableUser(alice);
			const bob = uniqueName("bob");
			await registerWith(contact.token, bob);
			expect((await (await login(bob, "pw")).roster()).get(`${alice}@localhost`)).toMatchObject({ subscription: "both" });
		});
	}
});
