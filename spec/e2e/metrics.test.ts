// End to end: what the module counts reaches an admin's graphs. Prosody's
// statistics (statistics = "internal", collected when scraped) served by
// mod_http_openmetrics at /metrics, on real Prosody 0.12, 13.0.1 and the
// newest 13, after registrations, refusals and invalid tokens (one storage:
// the counters do not touch it).
import { serverVersions } from "../../harness/server/prosody_sources.js";
import { uniqueName, useConnections, useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

/** The value of one sample of the exposition, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
	const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
	for (const line of text.split("\n")) {
		const match = line.match(/^([a-z_]+)\{([^}]*)\} ([0-9.e+]+)$/);
		if (match && match[1] === name && wanted.every((label) => match[2].split(",").includes(label))) return Number(match[3]);
	}
	return 0;
}

describe.each(serverVersions)("metrics on Prosody %s", (version) => {
	const server = useServer({ version, storage: "internal", metrics: true, config: { invite_token_session_failures: 2 } });
	const { open } = useConnections(server);

	test("registrations, tokens and spent budgets are counted and served at /metrics", async () => {
		const invite = await server().createAccountInvite();
		const client = await open();
		expect(stanzaError(await client.preauth("NoSuchTokenEverExisted00"))?.condition).toBe("item-not-found");
		expect((await client.preauth(invite.token)).attrs.type).toBe("result");
		expect((await client.register(uniqueName("metered"), "metered-password")).attrs.type).toBe("result");
		const uninvited = await open();
		expect(stanzaError(await uninvited.register(uniqueName("uninvited"), "some-password"))?.condition).toBe("forbidden");
		const guesser = await open();
		for (let i = 0; i < 3; i++) await guesser.preauth(`MadeUpToken${String(i).padStart(13, "0")}`);

		const text = await server().metrics();
		const name = (metric: string) => `prosody_mod_invites_register__${metric}_total`; // Prosody writes "/" as "__"
		const host = { host: server().domain };
		expect(sample(text, name("registrations"), { ...host, result: "registered", reason: "invite" })).toBe(1);
		expect(sample(text, name("registrations"), { ...host, result: "refused", reason: "forbidden" })).toBe(1);
		expect(sample(text, name("tokens"), { ...host, via: "preauth", result: "valid" })).toBe(1);
		expect(sample(text, name("tokens"), { ...host, via: "preauth", result: "invalid" })).toBe(3); // one, then two of the guesser's
		expect(sample(text, name("tokens"), { ...host, via: "preauth", result: "limited" })).toBe(1);
		expect(sample(text, name("limited"), { ...host, budget: "session" })).toBe(1);
		// Tokens never appear in metrics.
		expect(text).not.toContain(invite.token);
	});
});
