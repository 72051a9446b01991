// Budgets of invalid tokens that rotation does not get around, on real
// Prosody 0.12 and 13: an attacker with a whole IPv6 /64 gets one address
// budget, a remote server gets one budget per connection and per base
// domain however many subdomains it claims, and all remote servers
// together one ceiling however many domains and connections they use.
// Counted as reads of mod_invites' store (one per token looked up: the
// test storage driver counts them). Each scenario runs in a network
// namespace of its own (harness/server/netns.ts: the /64 routed to lo, the
// s2s port 5269 for the server and the attacker), in
// spec/support/rotation_scenarios.ts; `npm run bench` measures the same
// floods at full size (table 4).
import { networkNamespaceProblem, runInNetworkNamespace } from "../../harness/server/netns.js";
import type { ProsodyVersion } from "../../harness/server/prosody_sources.js";
import type { ScenarioInput, ScenarioResult } from "../support/rotation_scenarios.js";

const versions: ProsodyVersion[] = ["0.12", "13-latest"];

function run(input: ScenarioInput): Promise<ScenarioResult> {
	// Within the test's own timeout, so that a stalled scenario leaves no process behind.
	return runInNetworkNamespace<ScenarioInput, ScenarioResult>("spec/support/rotation_scenarios.ts", input, () => undefined, 50_000);
}

describe.each(versions)("Prosody %s: budgets an attacker cannot rotate around", (version) => {
	beforeAll(() => {
		const problem = networkNamespaceProblem();
		if (problem !== undefined) throw new Error(`these tests make a network namespace: ${problem}`);
	});

	test("a new address of the same IPv6 /64 for every connection: one budget for the /64, and a pending invite's token still works from it", async () => {
		const result = await run({ version, scenario: "ipv6", tokens: 40, config: { invite_token_session_failures: 5, invite_token_address_failures: 10, invite_token_failure_period: 600 } });
		expect(result.sent).toBe(40);
		expect(result.answers["item-not-found"]).toBe(10);
		expect(result.answers["resource-constraint"]).toBe(30);
		expect(result.invite_reads).toBe(10);
		expect(result.invitee).toBe("result");
	}, 60_000);

	test("a new subdomain every 10 requests over one s2s connection: one budget for the connection and the base domain; another server's real token still subscribes", async () => {
		const result = await run({ version, scenario: "s2s-subdomains", tokens: 120, config: { invite_token_domain_failures: 20, invite_token_failure_period: 600 } });
		expect(result.sent).toBe(120);
		expect(result.drained).toBe(true);
		expect(result.invite_reads).toBe(20);
		expect(result.invitee).toBe("from");
	}, 60_000);

	test("a new s2s connection and base domain every 10 requests: the ceiling for all remote servers holds; another server's real token still subscribes", async () => {
		const result = await run({ version, scenario: "s2s-domains", tokens: 120, config: { invite_token_remote_failures: 30, invite_token_failure_period: 600 } });
		expect(result.sent).toBe(120);
		expect(result.drained).toBe(true);
		expect(result.invite_reads).toBe(30);
		expect(result.invitee).toBe("from");
	}, 60_000);
});
