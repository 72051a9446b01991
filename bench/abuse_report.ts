/**
 * What `npm run bench` prints for the abuse runs of bench/abuse.ts: the
 * lines of its section 4 (4a, the floods' cost and the invitees'
 * registrations, by Prosody version; 4b, how the attacker's tokens were
 * answered).
 */
import { ROTATING_NETWORK } from "../harness/server/netns.js";
import { table } from "./tables.js";
import { ABUSE_LIMITS, ABUSE_TARGETS, REQUESTS_PER_DOMAIN, VICTIMS, isS2s, variantName, type AbuseRun, type LegitResult } from "./abuse.js";

const seconds = (s: number) => `${s.toFixed(2)} s`;
const tick = (ok: boolean) => (ok ? " ✓" : " ✗");

/** A legitimate registration as a table cell, marked against the target when `marked` (ours; the targets are ours to meet). */
function legitCell(l: LegitResult, marked = true): string {
	const after = l.started_during_flood ? "" : "after the flood: ";
	const ok = l.outcome === "registered" && l.total_ms <= ABUSE_TARGETS.registration_s * 1000;
	const mark = (ok: boolean) => (marked ? tick(ok) : "");
	if (l.outcome === "registered") return `${after}${seconds(l.total_ms / 1000)}${mark(ok)}`;
	if (l.outcome === "refused") return `${after}refused, ${l.error?.condition ?? "?"} (${seconds(l.total_ms / 1000)})${mark(false)}`;
	return `${after}failed (${seconds(l.total_ms / 1000)})${mark(false)}`;
}

/** Extra columns of table 4a, after ours' and stock's server CPU (bench/compare.ts's now/saved). */
export interface AbuseExtraColumns {
	headers: string[];
	cells: (ours: AbuseRun, stock: AbuseRun | undefined) => string[];
}

/** What `npm run bench` prints for the abuse runs: the lines of section 4. */
export function abuseReport(runs: AbuseRun[], extra?: AbuseExtraColumns): string[] {
	if (runs.length === 0) return [];
	const { iqs, pending, window, seconds: bound } = runs[0];
	const out: string[] = [];
	out.push(
		`4. Abuse: an attacker sends up to ${iqs} <preauth/> IQs with made-up tokens (24 base64url characters), ${window} in flight, while legitimate clients ` +
			`(from 127.0.0.1) connect, present a real invite and register. File storage, ${pending} pending account invites, a fresh server per run.`,
	);
	out.push(
		`   Ours at its defaults (after ${ABUSE_LIMITS.invite_token_session_failures} invalid tokens a session is refused, closed at ${2 * ABUSE_LIMITS.invite_token_session_failures} attempts; ` +
			`${ABUSE_LIMITS.invite_token_address_failures} invalid tokens per address per ${ABUSE_LIMITS.invite_token_failure_period} s). Stock has no limit.`,
	);
	out.push(
		`   Attackers: one connection; or reconnecting (a new connection whenever the server closed the last one or refused a token; it hangs up at the first refusal), ` +
			`until all IQs are sent or ${bound} s passed; from 127.0.0.1 (sharing the legitimate clients' address budget), from 127.0.0.2, or from a new address of ${ROTATING_NETWORK} for each connection (to ::1). ` +
			`s2s: a remote server (dialback, no TLS) sends as many XEP-0379 subscription requests with made-up tokens, each from a new sender, to ${VICTIMS.length} local users in turn, ` +
			`claiming a new domain every ${REQUESTS_PER_DOMAIN} requests: subdomains of evil.example over one connection, or a new connection and base domain (evilN.example) each time. Each request adds a pending subscription to a roster, with either module.`,
	);
	out.push(
		"   Invite store reads: of mod_invites' store during the flood (the test storage driver counts them: stock reads about twice per token it looks up, ours once; both also read for the invitees). All in a network namespace of their own (harness/server/netns.ts).",
	);
	out.push(
		`   Server CPU: /proc, from the attacker's first connection to its last one's end, minus the idle rate (target for ours ≤ ${ABUSE_TARGETS.flood_cpu_s} s; it includes the legitimate registrations, a few ms). ` +
			`s2s rows are not marked: their CPU is mostly Prosody's own, a pending subscription stored in a roster per request with either module; the module's part is its invite store reads. ` +
			`Registration: wall clock, connect → preauth → registered (target for ours ≤ ${ABUSE_TARGETS.registration_s} s; stock is not marked: it has no limits to meet them with), ` +
			`for a client starting with the flood's first IQs, and one starting when half of the IQs are sent (after the flood, when the attacker was cut off before).`,
	);
	for (const prosody of [...new Set(runs.map((r) => r.prosody))]) {
		const ofVersion = runs.filter((r) => r.prosody === prosody);
		const variants = ofVersion.filter((r) => r.module === "built");
		out.push("");
		out.push(`4a. Prosody ${prosody}`);
		out.push("");
		out.push(
			table(
				["attacker", "server CPU, ours", "stock", ...(extra?.headers ?? []), "invite store reads, ours", "stock", "registration at flood start, ours", "stock", "registration half-way, ours", "stock"],
				variants.map((ours) => {
					const stock = ofVersion.find((r) => r.module === "stock" && r.attacker === ours.attacker && r.address === ours.address);
					return [
						variantName(ours, ours.window).replace(`, ${ours.window} in flight`, ""),
						// s2s: the flood's CPU is mostly Prosody's own (a pending subscription stored per request), not marked against the target.
						`${seconds(ours.server_cpu_s)}${isS2s(ours.attacker) ? "" : tick(ours.server_cpu_s <= ABUSE_TARGETS.flood_cpu_s)}`,
						stock ? seconds(stock.server_cpu_s) : "",
						...(extra?.cells(ours, stock) ?? []),
						String(ours.invite_reads ?? ""),
						stock ? String(stock.invite_reads ?? "") : "",
						legitCell(ours.legit.early),
						stock ? legitCell(stock.legit.early, false) : "",
						legitCell(ours.legit.half_way),
						stock ? legitCell(stock.legit.half_way, false) : "",
					];
				}),
			),
		);
	}
	out.push("");
	out.push(
		`4b. How the attacker's ${iqs} IQs were answered. none: no answer — sent, then the connection closed (by the server, or the attacker hanging up), or never sent because the flood ended.`,
	);
	out.push("");
	const conditions = ["item-not-found", "resource-constraint", "forbidden"];
	out.push(
		table(
			["Prosody", "attacker", "module", "connections", "sent", ...conditions, "other", "none", "of which sent", "closed by server", "flood"],
			runs.map((r) => {
				const other = Object.entries(r.counts.answers).filter(([k]) => !conditions.includes(k)).reduce((n, [, v]) => n + v, 0);
				const closes = Object.entries(r.counts.stream_errors).map(([k, v]) => `${v} ${k}`).join(", ") || "0";
				return [
					r.prosody,
					variantName(r, r.window).replace(`, ${r.window} in flight`, ""),
					r.module === "built" ? "ours" : "stock",
					String(r.counts.connections + r.counts.failed_connections) + (r.counts.failed_connections ? ` (${r.counts.failed_connections} failed)` : ""),
					String(r.counts.sent),
					...conditions.map((c) => String(r.counts.answers[c] ?? 0)),
					String(other),
					String(r.counts.unanswered + r.counts.not_sent),
					String(r.counts.unanswered),
					closes,
					seconds(r.flood_seconds),
				];
			}),
			3,
		),
	);
	const problems = runs.filter((r) => r.log_errors.length > 0);
	out.push("");
	out.push(
		problems.length === 0
			? "Checks, every run: the server loaded the intended file, each legitimate client's account exists exactly when it was told it registered, no error in the server log."
			: `Errors in the server log: ${problems.map((r) => `${r.prosody} ${r.module} ${variantName(r, r.window)}: ${r.log_errors.length}`).join("; ")} (bench/results/latest.json has the lines).`,
	);
	return out;
}
