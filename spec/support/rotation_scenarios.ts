/**
 * Attackers that rotate what the budgets of invalid tokens are keyed on,
 * against a real Prosody, inside a network namespace of their own
 * (netns.ts; spec/e2e/rotating_budgets.test.ts runs this file there):
 *  - "ipv6": <preauth/>s with made-up tokens, a new connection from a new
 *    address of one IPv6 /64 each time, then the token of a pending invite
 *    from that /64 too;
 *  - "s2s-subdomains", "s2s-domains": XEP-0379 subscription requests with
 *    made-up tokens from a remote server (s2s_attacker.ts), rotating
 *    subdomains over one connection, or connections and base domains;
 *    then a real contact invite's token from another server.
 * The result counts the reads of mod_invites' store (one per token looked
 * up) through the test storage driver.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { namespaceInput, namespaceOutput, rotatingAddress } from "../../harness/server/netns.js";
import { ProsodyServer } from "../../harness/server/prosody_server.js";
import type { ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { repoRoot } from "../../harness/server/prosody_sources.js";
import { RawSession, madeUpToken } from "../../harness/clients/raw_xmpp.js";
import { AuthoritativeServer, S2S_PORT, attackerDomains, s2sFlood, s2sServerOptions, writeHostsFile, type S2sRotation } from "../../harness/clients/s2s_attacker.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

export type Scenario = "ipv6" | S2sRotation;
export interface ScenarioInput {
	version: ProsodyVersion;
	scenario: Scenario;
	/** Made-up tokens the attacker sends. */
	tokens: number;
	/** Options for the VirtualHost (the budgets). */
	config: Record<string, number>;
}
export interface ScenarioResult {
	/** Reads of mod_invites' store while the attacker sent. */
	invite_reads: number;
	/** ipv6: the answers to the made-up tokens, by condition. */
	answers: Record<string, number>;
	/** ipv6: the answer to the pending invite's token; s2s: whether the real contact invite made the subscription. */
	invitee: string;
	/** s2s: whether the server had handled every request when the flood ended. */
	drained: boolean;
	/** Made-up tokens sent. */
	sent: number;
}

const ca = () => readFileSync(path.join(repoRoot, ".cache/tls/localhost.crt"));


/** Sends `tokens` <preauth/>s on one session from `address`; the answers' conditions ("result" for a success). */
async function preauths(server: ProsodyServer, address: string, tokens: string[]): Promise<string[]> {
	const session = await RawSession.open(server.port, server.domain, address, ca(), "::1");
	const answers: string[] = [];
	await new Promise<void>((resolve) => {
		session.onElement = (el) => {
			if (el.name !== "iq") return;
			answers.push(el.attrs.type === "result" ? "result" : (stanzaError(el)?.condition ?? "unknown"));
			if (answers.length === tokens.length) resolve();
		};
		void session.closed.then(() => resolve());
		session.send(tokens.map((token, i) => `<iq type='set' id='p${i}'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`).join(""));
	});
	session.hangUp();
	return answers;
}

async function ipv6(input: ScenarioInput): Promise<ScenarioResult> {
	const server = await ProsodyServer.start({ version: input.version, storage: "internal", testStorage: true, interfaces: ["127.0.0.1", "::1"], config: input.config });
	try {
		const invite = await server.createAccountInvite();
		const before = await server.inviteStoreReads();
		const answers: Record<string, number> = {};
		const perSession = input.config.invite_token_session_failures;
		for (let sent = 0; sent < input.tokens; sent += perSession) {
			for (const answer of await preauths(server, rotatingAddress(), Array.from({ length: perSession }, madeUpToken))) {
				answers[answer] = (answers[answer] ?? 0) + 1;
			}
		}
		const invite_reads = await server.inviteStoreReads() - before;
		const [invitee] = await preauths(server, rotatingAddress(), [invite.token]);
		return { invite_reads, answers, invitee, drained: true, sent: Object.values(answers).reduce((n, count) => n + count, 0) };
	} finally {
		await server.stop();
	}
}

async function s2s(input: ScenarioInput, rotation: S2sRotation): Promise<ScenarioResult> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "rotation-hosts-"));
	const hosts = path.join(dir, "hosts");
	writeHostsFile(hosts, [...attackerDomains(rotation, input.tokens, 10), "friend.example"]);
	let server: ProsodyServer | undefined;
	let authority: AuthoritativeServer | undefined;
	try {
		server = await ProsodyServer.start({
			version: input.version,
			storage: "internal",
			testStorage: true,
			global: s2sServerOptions(hosts),
			modules: ["dialback"],
			config: input.config,
		});
		authority = await AuthoritativeServer.listen();
		await server.createUser("alice", "alice-password");
		// With registration (ibr=y), as clients make them: known pending, so checked whatever the budgets.
		const invite = await server.createContactInvite("alice", true);
		const before = await server.inviteStoreReads();
		const deadline = Date.now() + 30_000; // well within the test's timeout (rotating_budgets.test.ts)
		const flood = await s2sFlood(authority, { rotation, port: S2S_PORT, target: server.domain, victims: ["alice"], requests: input.tokens, perDomain: 10, token: madeUpToken, deadline, onSent: () => undefined });
		const invite_reads = await server.inviteStoreReads() - before;
		const friend = await s2sFlood(authority, {
			rotation: "s2s-domains",
			port: S2S_PORT,
			target: server.domain,
			victims: ["alice"],
			requests: 1,
			perDomain: 1,
			token: () => invite.token,
			deadline,
			onSent: () => undefined,
			domains: ["friend.example"],
		});
		const subscription = await server.lua<string | null>(`(function () local item = require "core.rostermanager".load_roster("alice", host.host)["u1@friend.example"]; return item and item.subscription end)()`);
		return { invite_reads, answers: {}, invitee: subscription ?? "none", drained: flood.drained && friend.drained, sent: flood.sent };
	} finally {
		await authority?.close();
		await server?.stop();
		rmSync(dir, { recursive: true, force: true });
	}
}

const input = namespaceInput<ScenarioInput>();
namespaceOutput(input.scenario === "ipv6" ? await ipv6(input) : await s2s(input, input.scenario));
