// A store that fails is told apart from an invite that does not exist:
// mod_invites reads a failed store as "no such invite", so a valid token
// would be refused as invalid (and Conversations would give up). The
// module answers wait/internal-server-error instead, spends no budget, and
// the same token works once the store is back.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const TRY_LATER = { type: "wait", condition: "internal-server-error", text: "The invite token could not be checked, please try again later" };

describe.each(prosodyVersions)("storage failures on Prosody %s", (version) => {
	const sims = simulators();

	test("<preauth/> while the invite store fails (nil, err): try again later, no budget spent; then the token works", () => {
		const sim = sims.create({ version });
		const invite = sim.invites.createAccount();
		const client = sim.connect({ ip: "192.0.2.9" });
		sim.storage.fail("invite_token", "error", "get");
		for (let i = 0; i < 12; i++) expect(stanzaError(sim.preauth(client, invite.token))).toEqual(TRY_LATER);
		expect(sim.sessionField(client, "invites_register_failed_tokens")).toBeUndefined();
		expect(sim.logs("error").some((l) => l.message.includes("test storage failure") || l.message.includes("simulated storage failure"))).toBe(true);
		sim.storage.fail("invite_token", undefined);
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		expect(sim.register(client, "alice").attrs.type).toBe("result");
	});

	test("an unknown token with a healthy store is still item-not-found", () => {
		const sim = sims.create({ version });
		expect(stanzaError(sim.preauth(sim.connect(), "NoSuchTokenEverExisted00"))?.condition).toBe("item-not-found");
	});

	test("XEP-0379 while the contact invites cannot be read: the normal path, and no budget spent", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice");
		const subscribe = `<presence type='subscribe' from='bob@remote.example' to='alice@example.com'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`;
		sim.storage.fail("invite_token", "error", "get");
		for (let i = 0; i < 12; i++) sim.receiveRemote(subscribe);
		expect(sim.rosterItem("alice", "bob@remote.example")?.subscription ?? "none").toBe("none");
		sim.storage.fail("invite_token", undefined);
		sim.receiveRemote(subscribe);
		expect(sim.rosterItem("alice", "bob@remote.example")).toMatchObject({ subscription: "from" });
	});
});
