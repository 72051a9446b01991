// End to end under faults, on real Prosody 0.12 and 13 with file and SQLite
// storage, through a test-only storage driver that makes chosen store calls
// slow (harness/server/prosody_plugins/mod_storage_test.lua): a registration
// whose connection drops while its account is written still holds its
// single-use invite; two registrations of one new name never both succeed;
// a use that storage could not record does not come back after a restart.
import { rmSync } from "node:fs";
import { ProsodyServer } from "../../harness/server/prosody_server.js";
import { serverMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(serverMatrix)("registration under faults on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage, testStorage: true });
	const { open } = useConnections(server);

	afterEach(async () => {
		await server().storageFault("accounts", "set", undefined);
	});

	test("a connection reset while its account is written: one account from a single-use invite, the invite used", async () => {
		const invite = await server().createAccountInvite();
		const [alice, bob] = [uniqueName("alice"), uniqueName("bob")];
		await server().storageFault("accounts", "set", "sleep", 1);
		const dropped = await Connection.open(server(), "dropped");
		expect((await dropped.preauth(invite.token)).attrs.type).toBe("result");
		await dropped.registerAndDrop(alice, "pw");
		await sleep(300); // the server is writing alice's account
		const other = await open();
		expect((await other.preauth(invite.token)).attrs.type).toBe("result");
		expect(stanzaError(await other.register(bob, "pw"))).toMatchObject({ type: "wait", condition: "resource-constraint" });
		// alice's registration finishes without its connection (13 writes the account three times: create, password, enable).
		for (let i = 0; i < 100 && (await server().inviteIsValid(invite.token)); i++) await sleep(100);
		expect(await server().userExists(alice)).toBe(true);
		expect(await server().userExists(bob)).toBe(false);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		await dropped.close().catch(() => undefined);
	});

	test("two registrations of one new name at once, with two invites: one account, the other refused with conflict, the winner's password kept", async () => {
		const [first, second] = [await server().createAccountInvite(), await server().createAccountInvite()];
		const name = uniqueName("carol");
		await server().storageFault("accounts", "set", "sleep", 1);
		const [a, b] = [await open(), await open()];
		await a.preauth(first.token);
		await b.preauth(second.token);
		const [ra, rb] = await Promise.all([a.register(name, "first-password"), b.register(name, "second-password")]);
		expect([ra.attrs.type, rb.attrs.type].sort()).toEqual(["error", "result"]);
		expect(stanzaError(ra.attrs.type === "error" ? ra : rb)).toEqual({ type: "cancel", condition: "conflict", text: `The username '${name}' is being registered by someone else` });
		await server().storageFault("accounts", "set", undefined);
		const password = ra.attrs.type === "result" ? "first-password" : "second-password";
		const signedIn = await Connection.login(server(), name, password);
		await signedIn.close();
		expect(await server().inviteIsValid(ra.attrs.type === "result" ? second.token : first.token)).toBe(true);
	});
});

describe.each(serverMatrix)("a use that storage did not record, on Prosody %s with %s storage", (version, storage) => {
	test("mod_invites could not delete a used single-use invite: refused while the server runs, and after a restart; deleted then", async () => {
		const first = await ProsodyServer.start({ version, storage, testStorage: true });
		let second: ProsodyServer | undefined;
		try {
			const invite = await first.createAccountInvite();
			await first.storageFault("invite_token", "set", "error");
			const alice = uniqueName("alice");
			const client = await Connection.open(first, "first");
			expect((await client.preauth(invite.token)).attrs.type).toBe("result");
			expect((await client.register(alice, "pw")).attrs.type).toBe("result");
			await client.close();
			expect(await first.inviteIsValid(invite.token)).toBe(true); // mod_invites still holds it
			expect(first.log()).toMatch(/was used, but mod_invites could not delete it from storage/);
			const again = await Connection.open(first, "again");
			expect(stanzaError(await again.preauth(invite.token))).toMatchObject({ type: "cancel", condition: "item-not-found" });
			await again.close();
			await first.stop({ keepData: true });
			const logged = first.log().length; // the same log file

			second = await ProsodyServer.start({ version, storage, testStorage: true, dataDir: first.dataDir });
			const later = await Connection.open(second, "later");
			expect(stanzaError(await later.preauth(invite.token))).toMatchObject({ type: "cancel", condition: "item-not-found" });
			expect(stanzaError(await later.register(uniqueName("mallory"), "pw"))).toBeDefined();
			await later.close();
			expect(await second.inviteIsValid(invite.token)).toBe(false); // deleted when the module loaded
			expect(await second.lua(`require "core.storagemanager".open(host.host, "invites_register_unrecorded", "keyval"):get(nil) == nil`)).toBe(true);
			expect(second.log().slice(logged).split("\n").filter((line) => /\terror\t|traceback/i.test(line))).toEqual([]);
		} finally {
			await second?.stop();
			await first.stop();
			rmSync(first.dataDir, { recursive: true, force: true });
		}
	}, 60_000);
});
