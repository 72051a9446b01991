/**
 * Abuse: what a flood of made-up invite tokens costs a real Prosody, and
 * what a legitimate user registering at the same time sees; our module
 * against the stock one (issue "resist abuse", point 5).
 *
 * Each run starts a fresh server (file storage) with our module's limits at
 * their defaults, written out in the config (the test harness otherwise
 * raises the per-address budget for its shared 127.0.0.1), fills the invite
 * store with `pending` account invites (bench/e2e.ts's bulk fill), measures
 * the server's idle CPU, and then:
 *
 *  - an attacker (a raw XMPP client: TCP, STARTTLS, then nothing but
 *    `<iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq>`)
 *    sends up to `iqs` IQs with made-up tokens of the right shape (24
 *    base64url characters, as util.id.medium makes them), `window` in flight;
 *  - legitimate clients (@xmpp/client, from 127.0.0.1) connect, present a
 *    real invite each and register: "early" as soon as the attacker's first
 *    IQs are written, "half-way" once half of the IQs are sent (or after the
 *    flood, when it ended before that: the attacker was cut off).
 *
 * Attackers:
 *  - "single": one connection. When the server closes it, the IQs not yet
 *    sent are never sent.
 *  - "reconnecting": opens a new connection whenever the server closed the
 *    last one or refused its tokens (the first resource-constraint: it hangs
 *    up at once, the IQs still in flight unanswered), until `iqs` IQs were
 *    sent or `seconds` passed.
 * The attacker connects from 127.0.0.1 (the legitimate client's address:
 * they share the per-address budget) or from another loopback address
 * (127.0.0.2: counted apart). Prosody listens on 127.0.0.1; Linux routes
 * all of 127.0.0.0/8 to lo, so the attacker binds its socket's source.
 *
 * Measured: server CPU (user + system, /proc) from the attacker's first
 * connection attempt to its last connection's end, minus the idle rate over
 * that time; the legitimate registration's wall clock (connect → preauth →
 * registered) and outcome; how the IQs were answered.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProsodyServer } from "../harness/server/prosody_server.js";
import { builtModuleDir, prosodySource, repoRoot, type ProsodyVersion } from "../harness/server/prosody_sources.js";
import { stanzaError } from "../harness/clients/stanzas.js";
import { Connection } from "../harness/clients/xmpp_client.js";
import { fillInviteStore } from "./e2e.js";
import { ROTATING_NETWORK, inNetworkNamespace, networkNamespaceProblem, rotatingAddress, runInNetworkNamespace } from "../harness/server/netns.js";
import { RawSession, madeUpToken } from "../harness/clients/raw_xmpp.js";
import { ATTACKER_ADDRESS, AuthoritativeServer, S2S_PORT, attackerDomains, s2sFlood, s2sServerOptions, writeHostsFile, type S2sRotation } from "../harness/clients/s2s_attacker.js";
import { failedRuns, withRetry, type FailedRun } from "./retry.js";
import { TARGETS } from "./targets.js";

export type AbuseModule = "built" | "stock";
export type Attacker = "single" | "reconnecting" | "rotating" | S2sRotation;

export interface AbuseVariant {
	attacker: Attacker;
	/**
	 * The attacker's source address (the legitimate client's is always
	 * 127.0.0.1); "rotating": the IPv6 network whose addresses it takes in
	 * turn, a new one per connection.
	 */
	address: string;
}

/** The variants `npm run bench` runs, in this order. */
export const abuseVariants: AbuseVariant[] = [
	{ attacker: "single", address: "127.0.0.1" },
	{ attacker: "reconnecting", address: "127.0.0.1" },
	{ attacker: "reconnecting", address: "127.0.0.2" },
	{ attacker: "rotating", address: ROTATING_NETWORK },
	{ attacker: "s2s-subdomains", address: ATTACKER_ADDRESS },
	{ attacker: "s2s-domains", address: ATTACKER_ADDRESS },
];

/** XEP-0379 requests per attacker domain (a new domain after as many: s2s_attacker.ts). */
export const REQUESTS_PER_DOMAIN = 10;
/** Local users the s2s requests go to, in turn (each request adds a pending subscription to one's roster, with either module). */
export const VICTIMS = Array.from({ length: 20 }, (_, i) => `victim${i + 1}`);

export interface AbuseOptions {
	versions: ProsodyVersion[];
	/** Pending account invites in the (file) store. */
	pending: number;
	/** IQs the attacker sends at most. */
	iqs: number;
	/** IQs in flight (sent, not answered) per attacker connection. */
	window: number;
	/** The reconnecting attacker stops after this many seconds (the single one too, as a bound). */
	seconds: number;
	variants?: AbuseVariant[];
	/** Keep each server's data folder (config, log) and record it in the run: for looking into a run. */
	keepData?: boolean;
	/** Ours from this plugin folder instead of dist-lua/ (an earlier build: --abuse-ours REV). */
	oursDir?: string;
}

/** The module's limits, at their defaults, written out (the harness raises the per-address budget otherwise). */
export const ABUSE_LIMITS = { invite_token_session_failures: 5, invite_token_address_failures: 10, invite_token_failure_period: 60 };

/** The targets of table 4a (bench/targets.ts): server CPU of a flood and a legitimate registration during it, ours. */
export const ABUSE_TARGETS = TARGETS.abuse;

export interface FloodCounts {
	/** Connections that reached the point of sending IQs (after STARTTLS). */
	connections: number;
	/** Connection attempts that failed before that (refused, reset, timed out). */
	failed_connections: number;
	sent: number;
	/** Answers by error condition ("result" for a success, which a made-up token never is). */
	answers: Record<string, number>;
	/** Sent, but the connection closed (by the server, or the attacker hanging up) before an answer. */
	unanswered: number;
	/** Never sent: the flood ended (closed, out of time) first. */
	not_sent: number;
	/** Stream errors the server closed attacker connections with, by condition. */
	stream_errors: Record<string, number>;
	/** Connections the attacker hung up on after a refusal. */
	hung_up: number;
	/** s2s: the domains the attacker claimed, and whether the server had handled every request when the flood ended. */
	domains?: number;
	drained?: boolean;
}

export interface LegitResult {
	outcome: "registered" | "refused" | "failed";
	/** For a refusal: at which step, and the error's type/condition/text. */
	step?: "preauth" | "register";
	error?: { type?: string; condition?: string; text?: string };
	/** A failure (timeout, closed stream): the message. */
	message?: string;
	/** Wall clock from the start of the connection to each step's answer, ms. */
	connected_ms?: number;
	preauth_ms?: number;
	total_ms: number;
	/** When the legitimate client started, ms after the flood started. */
	started_at_ms: number;
	/** Whether the flood was still going when the client started, and when it had its preauth answer. */
	started_during_flood: boolean;
	during_flood: boolean;
	/** After the run: whether the account exists (must match outcome "registered"). */
	account_exists: boolean;
}

export interface AbuseRun extends AbuseVariant {
	version: ProsodyVersion;
	prosody: string;
	module: AbuseModule;
	pending: number;
	iqs: number;
	window: number;
	/** The time bound of the flood, seconds. */
	seconds: number;
	flood_seconds: number;
	/** Server CPU over the flood, seconds: raw, the idle rate (CPU s per s), and raw minus idle × duration. */
	server_cpu_raw_s: number;
	idle_cpu_rate: number;
	server_cpu_s: number;
	counts: FloodCounts;
	/** Reads of mod_invites' store over the flood (the test storage driver counts them): how many made-up tokens were looked up, about two reads each. */
	invite_reads: number;
	/** The legitimate clients: at the flood's start, and half-way. */
	legit: { early: LegitResult; half_way: LegitResult };
	/** Lines of the server log at error level (there should be none). */
	log_errors: string[];
	/** Lines where the module logged the limits engaging (ours only). */
	limit_log_lines: number;
	setup_seconds: number;
	/** With keepData: the server's data folder (prosody.log, prosody.cfg.lua). */
	data_dir?: string;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;


function emptyCounts(): FloodCounts {
	return { connections: 0, failed_connections: 0, sent: 0, answers: {}, unanswered: 0, not_sent: 0, stream_errors: {}, hung_up: 0 };
}

/**
 * Sends IQs on one session, `window` in flight, while `budget.left` > 0 and
 * before `deadline`. Resolves when the session is closed: by the server, or
 * by the attacker — after its last answer, or (hangUpOnRefusal) at the first
 * resource-constraint.
 */
async function floodSession(
	session: RawSession,
	budget: { left: number },
	window: number,
	deadline: number,
	hangUpOnRefusal: boolean,
	counts: FloodCounts,
	onSent: () => void,
): Promise<void> {
	const inFlight = new Set<string>();
	let stopped = false;
	let serial = 0;
	const pump = () => {
		if (stopped || !session.isOpen) return;
		if (now() >= deadline) {
			stopped = true;
			session.hangUp();
			return;
		}
		let batch = "";
		while (inFlight.size < window && budget.left > 0) {
			const id = `f${++serial}`;
			inFlight.add(id);
			budget.left--;
			counts.sent++;
			batch += `<iq type='set' id='${id}'><preauth xmlns='urn:xmpp:pars:0' token='${madeUpToken()}'/></iq>`;
		}
		if (batch !== "") {
			session.send(batch);
			onSent();
		}
		if (inFlight.size === 0) {
			stopped = true;
			session.hangUp(); // all sent and answered
		}
	};
	session.onElement = (el) => {
		if (el.name !== "iq" || !inFlight.delete(el.attrs.id)) return;
		const condition = el.attrs.type === "result" ? "result" : (stanzaError(el)?.condition ?? "unknown");
		counts.answers[condition] = (counts.answers[condition] ?? 0) + 1;
		if (hangUpOnRefusal && condition === "resource-constraint" && !stopped) {
			stopped = true;
			counts.hung_up++;
			session.hangUp();
			return;
		}
		pump();
	};
	const timer = setTimeout(pump, Math.max(0, deadline - now()));
	pump();
	await session.closed;
	clearTimeout(timer);
	counts.unanswered += inFlight.size;
	if (session.streamError !== undefined) counts.stream_errors[session.streamError] = (counts.stream_errors[session.streamError] ?? 0) + 1;
}

export const isS2s = (attacker: Attacker): attacker is S2sRotation => attacker === "s2s-subdomains" || attacker === "s2s-domains";

/** The s2s floods (s2s_attacker.ts), counted as the c2s ones are: no answers (a subscription request has none). */
async function s2sFloodCounts(server: ProsodyServer, rotation: S2sRotation, authority: AuthoritativeServer, options: AbuseOptions, onSent: (counts: FloodCounts) => void): Promise<FloodCounts> {
	const counts = emptyCounts();
	const flooded = await s2sFlood(authority, {
		rotation,
		port: S2S_PORT,
		target: server.domain,
		victims: VICTIMS,
		requests: options.iqs,
		perDomain: REQUESTS_PER_DOMAIN,
		token: madeUpToken,
		deadline: Date.now() + options.seconds * 1000,
		onSent: (sent) => {
			counts.sent = sent;
			onSent(counts);
		},
	});
	return { ...counts, connections: flooded.connections, failed_connections: flooded.refused_domains, sent: flooded.sent, not_sent: options.iqs - flooded.sent, domains: flooded.domains, drained: flooded.drained };
}

/** The whole flood: one connection, or reconnecting until the IQs are sent or the time is up. */
async function flood(
	server: ProsodyServer,
	variant: AbuseVariant,
	options: AbuseOptions,
	ca: Buffer,
	onSent: (counts: FloodCounts) => void,
): Promise<FloodCounts> {
	const counts = emptyCounts();
	const budget = { left: options.iqs };
	const deadline = now() + options.seconds * 1000;
	do {
		let session: RawSession;
		try {
			session =
				variant.attacker === "rotating"
					? await RawSession.open(server.port, server.domain, rotatingAddress(), ca, "::1")
					: await RawSession.open(server.port, server.domain, variant.address, ca);
		} catch {
			counts.failed_connections++;
			await sleep(10);
			continue;
		}
		counts.connections++;
		await floodSession(session, budget, options.window, deadline, variant.attacker !== "single", counts, () => onSent(counts));
	} while (variant.attacker !== "single" && budget.left > 0 && now() < deadline);
	counts.not_sent = budget.left;
	return counts;
}

/** The legitimate user: connect, preauth with a real invite, register; never throws. */
async function legitimate(server: ProsodyServer, token: string, username: string, floodStart: number, floodRunning: () => boolean): Promise<LegitResult> {
	const start = now();
	const result: LegitResult = {
		outcome: "failed",
		total_ms: 0,
		started_at_ms: start - floodStart,
		started_during_flood: floodRunning(),
		during_flood: false,
		account_exists: false,
	};
	let client: Connection | undefined;
	try {
		client = await Connection.open(server, "legit");
		result.connected_ms = now() - start;
		const preauth = await client.preauth(token);
		result.preauth_ms = now() - start;
		result.during_flood = floodRunning();
		if (preauth.attrs.type !== "result") {
			Object.assign(result, { outcome: "refused", step: "preauth", error: stanzaError(preauth) });
		} else {
			const registered = await client.register(username, "abuse-bench-password");
			result.outcome = registered.attrs.type === "result" ? "registered" : "refused";
			if (result.outcome === "refused") Object.assign(result, { step: "register", error: stanzaError(registered) });
		}
	} catch (err) {
		result.message = err instanceof Error ? err.message : String(err);
	} finally {
		result.total_ms = now() - start;
		await client?.close();
	}
	return result;
}

export function variantName(v: AbuseVariant, window: number): string {
	switch (v.attacker) {
		case "single":
			return `one connection, ${window} in flight, from ${v.address}`;
		case "reconnecting":
			return `reconnecting, ${window} in flight, from ${v.address}`;
		case "rotating":
			return `reconnecting, ${window} in flight, from a new address of ${v.address} each time`;
		case "s2s-subdomains":
			return `s2s: one connection, a new subdomain every ${REQUESTS_PER_DOMAIN} requests, from ${v.address}`;
		case "s2s-domains":
			return `s2s: a new connection and domain every ${REQUESTS_PER_DOMAIN} requests, from ${v.address}`;
	}
}

async function oneRun(options: AbuseOptions, version: ProsodyVersion, module: AbuseModule, variant: AbuseVariant, ca: Buffer, prosody: string): Promise<AbuseRun> {
	const s2s = isS2s(variant.attacker) ? variant.attacker : undefined;
	const hostsDir = s2s === undefined ? undefined : mkdtempSync(path.join(os.tmpdir(), "abuse-hosts-"));
	if (s2s !== undefined && hostsDir !== undefined) writeHostsFile(path.join(hostsDir, "hosts"), attackerDomains(s2s, options.iqs, REQUESTS_PER_DOMAIN));
	const server = await ProsodyServer.start({
		version,
		storage: "internal",
		module,
		pluginDir: module === "built" ? options.oursDir : undefined,
		config: ABUSE_LIMITS,
		// Every store operation counted (the invite store's reads are the lookups); the same wrapper for both modules.
		testStorage: true,
		...(variant.attacker === "rotating" ? { interfaces: ["127.0.0.1", "::1"] } : {}),
		...(hostsDir !== undefined ? { global: s2sServerOptions(path.join(hostsDir, "hosts")), modules: ["dialback"] } : {}),
	});
	const authority = s2s === undefined ? undefined : await AuthoritativeServer.listen();
	const label = `abuse ${version} ${module} ${variantName(variant, options.window)}`;
	try {
		const expected = path.join(module === "built" ? (options.oursDir ?? builtModuleDir) : path.join(prosodySource(version), "modules"), "mod_invites_register.lua");
		const loaded = await server.lua<string>(`host.modules.invites_register.module.path`);
		if (path.normalize(loaded) !== expected) throw new Error(`${label}: the server loaded ${loaded}, not ${expected}`);

		const setupStart = now();
		// The filler is written straight into the store; the two invitees' invites are
		// made in the server as an admin makes them (shell, ad-hoc, web), so mod_invites'
		// invite-created event tells the module about them.
		await fillInviteStore(server, options.pending - 2, 1);
		const tokens = [(await server.createAccountInvite()).token, (await server.createAccountInvite()).token];
		if (s2s !== undefined) {
			await server.lua(`(function () for _, name in ipairs(${JSON.stringify(VICTIMS).replace("[", "{").replace("]", "}")}) do assert(require "core.usermanager".create_user(name, "victim-password", host.host)); end end)()`);
		}
		const setupSeconds = (now() - setupStart) / 1000;
		const readsBefore = await server.inviteStoreReads();

		// Idle baseline: the server with nothing to do (after the shell call settled).
		await sleep(500);
		const idleBefore = server.cpuSeconds();
		const idleStart = now();
		await sleep(1000);
		const idleRate = (server.cpuSeconds() - idleBefore) / ((now() - idleStart) / 1000);

		const cpuBefore = server.cpuSeconds();
		const floodStart = now();
		let floodRunning = true;
		const usernames = ["early", "halfway"].map((when) => `legit${when}${module}${variant.attacker}${variant.address.replace(/[^0-9a-z]/gi, "")}`);
		const legit: (Promise<LegitResult> | undefined)[] = [undefined, undefined];
		const startLegit = (i: number) => (legit[i] ??= legitimate(server, tokens[i], usernames[i], floodStart, () => floodRunning));
		const onSent = (sofar: FloodCounts) => {
			startLegit(0);
			if (sofar.sent >= Math.ceil(options.iqs / 2)) startLegit(1);
		};
		const counts = s2s !== undefined && authority !== undefined ? await s2sFloodCounts(server, s2s, authority, options, onSent) : await flood(server, variant, options, ca, onSent);
		floodRunning = false;
		const floodSeconds = (now() - floodStart) / 1000;
		const cpuRaw = server.cpuSeconds() - cpuBefore;
		// Those not started yet (the attacker was cut off before half-way): now, after the flood.
		const [early, halfWay] = await Promise.all([startLegit(0), startLegit(1)]);
		for (const [i, result] of [early, halfWay].entries()) {
			result.account_exists = await server.userExists(usernames[i]);
			if (result.account_exists !== (result.outcome === "registered")) {
				throw new Error(`${label}: a legitimate client's outcome is ${result.outcome}, but its account ${result.account_exists ? "exists" : "does not exist"}`);
			}
		}
		const invite_reads = (await server.inviteStoreReads()) - readsBefore;
		const log = server.log();
		return {
			...variant,
			version,
			prosody,
			module,
			pending: options.pending,
			iqs: options.iqs,
			window: options.window,
			seconds: options.seconds,
			flood_seconds: floodSeconds,
			server_cpu_raw_s: cpuRaw,
			idle_cpu_rate: idleRate,
			server_cpu_s: Math.max(0, cpuRaw - idleRate * floodSeconds),
			counts,
			invite_reads,
			legit: { early, half_way: halfWay },
			log_errors: server.logProblems(),
			limit_log_lines: log.split("\n").filter((line) => line.includes("invalid invite tokens")).length,
			setup_seconds: setupSeconds,
			...(options.keepData ? { data_dir: server.dataDir } : {}),
		};
	} finally {
		await authority?.close();
		await server.stop({ keepData: options.keepData });
		if (hostsDir !== undefined) rmSync(hostsDir, { recursive: true, force: true });
	}
}

export function describeLegit(l: LegitResult): string {
	const s = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(2)} s`;
	const when = l.started_during_flood ? "" : " (started after the flood)";
	if (l.outcome === "registered") return `registered in ${s(l.total_ms)}${when}`;
	if (l.outcome === "refused") return `refused at ${l.step} (${l.error?.condition ?? "?"}) after ${s(l.total_ms)}${when}`;
	return `failed after ${s(l.total_ms)}${when}: ${l.message}`;
}

/**
 * The abuse runs, in a network namespace of their own (harness/server/netns.ts).
 * Where none can be made (no unshare, no user namespaces), here, without
 * the variants that need one.
 */
export async function runAbuse(options: AbuseOptions, progress: (line: string) => void): Promise<AbuseRun[]> {
	if (inNetworkNamespace()) {
		return runAbuseHere(options, progress);
	}
	const problem = networkNamespaceProblem();
	if (problem !== undefined) {
		progress(`  ✗ abuse: no network namespace (${problem}): running here, without the IPv6 and s2s attackers`);
		const here = (options.variants ?? abuseVariants).filter((v) => v.attacker === "single" || v.attacker === "reconnecting");
		return runAbuseHere({ ...options, variants: here }, progress);
	}
	const result = await runInNetworkNamespace<AbuseOptions, { runs: AbuseRun[]; failed: FailedRun[] }>("bench/abuse_child.ts", options, progress);
	failedRuns.push(...result.failed);
	return result.runs;
}

/** The abuse runs, in this process. */
export async function runAbuseHere(options: AbuseOptions, progress: (line: string) => void): Promise<AbuseRun[]> {
	const ca = readFileSync(path.join(repoRoot, ".cache/tls/localhost.crt"));
	const runs: AbuseRun[] = [];
	for (const version of options.versions) {
		const prosody = readFileSync(path.join(prosodySource(version), "prosody.version"), "utf8").trim();
		for (const variant of options.variants ?? abuseVariants) {
			for (const module of ["built", "stock"] as const) {
				const run = await withRetry(`abuse ${version} ${module} ${variant.attacker} from ${variant.address}`, () => oneRun(options, version, module, variant, ca, prosody), progress);
				if (run === undefined) continue;
				const answers = Object.entries(run.counts.answers).map(([k, v]) => `${v} ${k}`).join(", ") || "none";
				progress(
					`  abuse ${prosody} ${module === "built" ? "ours " : "stock"} ${variantName(variant, options.window)}: ` +
						`${run.counts.connections} connection(s), ${run.counts.sent} sent, answers ${answers}; ` +
						`flood ${run.flood_seconds.toFixed(2)} s, server CPU ${run.server_cpu_s.toFixed(2)} s; legit early ${describeLegit(run.legit.early)}, half-way ${describeLegit(run.legit.half_way)}`,
				);
				runs.push(run);
			}
		}
	}
	return runs;
}
