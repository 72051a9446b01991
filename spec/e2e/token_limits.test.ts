// End to end: the limits on invalid invite tokens engage on a real server,
// and a correct token still works on a fresh connection (not timed: the
// benchmark measures what the limits save).
import { versionMatrix, uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const LIMITED = { type: "wait", condition: "resource-constraint", text: "Too many invalid invite tokens, please check your invite and try again later" };
let bogus = 0;
const madeUp = () => `E2eMadeUpToken${String(++bogus).padStart(10, "0")}`;

describe.each(versionMatrix)("limits on invalid invite tokens on Prosody %s with %s storage", (version, storage) => {
	// All test clients share 127.0.0.1: its budget is set so that the second test sees it run out.
	const server = useServer({ version, storage, config: { invite_token_address_failures: 8 } });
	const { open } = useConnections(server);

	test("a session is refused after 5 invalid tokens and closed if it goes on; its invitee's token is still checked", async () => {
		const invite = await server().createAccountInvite();
		const client = await open();
		for (let i = 0; i < 5; i++) expect(stanzaError(await client.preauth(madeUp()))?.condition).toBe("item-not-found");
		expect(stanzaError(await client.preauth(madeUp()))).toEqual(LIMITED);
		// A pending invite's token is checked whatever the budget: a mistyping invitee is not locked out.
		expect((await client.preauth(invite.token)).attrs.type).toBe("result");
		for (let i = 0; i < 3; i++) expect(stanzaError(await client.preauth(madeUp()))).toEqual(LIMITED);
		void client.preauth(madeUp()).catch(() => undefined); // the 5th refusal: answered, then the stream is closed
		expect(await client.streamError()).toBe("policy-violation");

		const fresh = await open();
		expect((await fresh.preauth(invite.token)).attrs.type).toBe("result");
		const name = uniqueName("patient");
		expect((await fresh.register(name, "pw")).attrs.type).toBe("result");
		expect(await server().userExists(name)).toBe(true);
	});

	test("an address that spent its budget across connections is refused made-up tokens on a new one, not a pending invite", async () => {
		const invite = await server().createAccountInvite();
		// One invalid token per connection, until the address (8 per minute) is out of budget.
		let failures = 0;
		let limited = false;
		while (!limited && failures < 12) {
			const error = stanzaError(await (await open()).preauth(madeUp()));
			limited = error?.condition === LIMITED.condition;
			if (!limited) failures += 1;
		}
		expect(limited).toBe(true);
		expect(stanzaError(await (await open()).preauth(madeUp()))).toEqual(LIMITED);
		const invitee = await open();
		expect((await invitee.preauth(invite.token)).attrs.type).toBe("result");
		expect((await invitee.register(uniqueName("neighbour"), "pw")).attrs.type).toBe("result");
		expect(server().log()).toContain("Too many invalid invite tokens (address budget) from 127.0.0.1");
		expect(server().log()).not.toContain(invite.token);
	});
});
