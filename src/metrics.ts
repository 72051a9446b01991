/**
 * What the module counts, for an admin's graphs, through Prosody's
 * statistics API (`module:metric`): with `statistics = "internal"` and
 * mod_http_openmetrics, they are served at /metrics as
 * prosody_mod_invites_register__<name>_total{host=…,…}. Without statistics
 * the calls do nothing.
 *  - registrations{result, reason}: "registered" with "invite" or "open"
 *    (no invite, registration_invite_only = false); "refused" with the
 *    error condition (forbidden, conflict, internal-server-error, …);
 *  - tokens{via, result}: tokens presented at <preauth/> ("preauth") or in
 *    XEP-0379 requests ("subscription"), by how they were answered: valid,
 *    invalid, expired, void (its account no longer stands), unavailable
 *    (storage failed), malformed, limited (a budget of invalid tokens was
 *    spent: not checked);
 *  - limited{budget}: checks skipped because that budget was spent
 *    (session, address, sender, connection, server, base domain, remote);
 *  - unrecorded_uses: used invites that storage failed to delete
 *    (used_invites.ts).
 */
import type { CounterMetric, MetricFamily } from "./types/statsmanager";

function counter(name: string, description: string, labels: readonly string[]): MetricFamily<CounterMetric> | undefined {
	// A Prosody without the statistics API (or a failure in it) only loses the counts.
	const [ok, family] = pcall(() => module.metric("counter", name, "", description, labels));
	return ok ? family : undefined;
}

const registrations = counter("registrations", "Account registrations this module saw, by result", ["result", "reason"]);
const tokens = counter("tokens", "Invite tokens presented, by where and how they were answered", ["via", "result"]);
const limited = counter("limited", "Token checks skipped because a budget of invalid tokens was spent, by budget", ["budget"]);
const unrecorded = counter("unrecorded_uses", "Used invites that storage failed to delete", []);

/** Adds one to a counter of the family (labels as its keys, after host); never raises. */
function add(family: MetricFamily<CounterMetric> | undefined, first?: string, second?: string): void {
	if (family === undefined) {
		return;
	}
	pcall(() => {
		const metric = first === undefined ? family.with_labels() : second === undefined ? family.with_labels(first) : family.with_labels(first, second);
		metric.add(1);
	});
}

export type TokenResult = "valid" | "invalid" | "expired" | "void" | "unavailable" | "malformed" | "limited";

export function count_registration(result: "registered" | "refused", reason: string): void {
	add(registrations, result, reason);
}

export function count_token(via: "preauth" | "subscription", result: TokenResult): void {
	add(tokens, via, result);
}

/** How a refused token is counted, by its problem (mod_invites' names, and "token-void" for an invite whose account no longer stands). */
export function refused_token(problem: string): TokenResult {
	if (problem === "token-expired") {
		return "expired";
	}
	if (problem === "token-void") {
		return "void";
	}
	return problem === "internal-error" ? "unavailable" : "invalid";
}

export function count_limited(budget: string): void {
	add(limited, budget);
}

export function count_unrecorded_use(): void {
	add(unrecorded);
}
