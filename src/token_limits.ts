/**
 * Limits on invalid invite tokens. Checking a token reads the invite store
 * (with file storage, a parse of every pending invite), so a client that
 * has not signed in, or a remote sender, must not be able to make the
 * server check made-up tokens without end. Only tokens that turned out
 * invalid count, the limits are checked before the lookup, and a token
 * known to be pending (pending_invites.ts) is checked whatever the budgets
 * say, so an invitee is not locked out by an attacker on the same address:
 *  - per session: after `invite_token_session_failures` invalid tokens,
 *    further <preauth/>s are refused without lookup; a session that goes on
 *    as many times more is closed (policy-violation);
 *  - per IP address (IPv6: per /64 network, address_keys.ts), across
 *    sessions: a budget of failures that refills over
 *    `invite_token_failure_period` seconds (util.throttle, a token bucket);
 *  - for all clients of the host together (`invite_token_host_failures`):
 *    a ceiling that no rotation of addresses gets past; the tokens of
 *    pending invites are still checked above it, so invitees get in;
 *  - for XEP-0379 requests, the same kind of budget per sender; and, when
 *    they come from another server, per server-to-server connection (in
 *    either direction: 13's bidirectional streams carry requests over
 *    outgoing connections too), per remote domain, per base domain (its
 *    last two labels, three under a two-letter country code's short second
 *    level such as co.uk: one server's many subdomains share one), and
 *    for all remote servers together (`invite_token_remote_failures`), so
 *    that no rotation of domains or connections makes the server check
 *    made-up tokens without end. Over a budget, the request takes the
 *    normal path (the user is asked), it is never refused.
 * Memory stays bounded: at most TRACKED addresses of each kind are kept,
 * the least recently used go first (util.cache).
 */
import { address_key } from "./address_keys";
import { count_limited } from "./metrics";
import { positive_option } from "./options";
import { prosody_require } from "./prosody_require";
import type { Session } from "./types/session";
import type { Cache, Throttle } from "./types/throttle";

const throttle = prosody_require("util.throttle");
const cache = prosody_require("util.cache");

const session_failures = positive_option("invite_token_session_failures", 5);
const address_failures = positive_option("invite_token_address_failures", 10);
const domain_failures = positive_option("invite_token_domain_failures", 50);
const remote_failures = positive_option("invite_token_remote_failures", 500);
const host_failures = positive_option("invite_token_host_failures", 1000);
const period = positive_option("invite_token_failure_period", 60);

const TRACKED = 10000;

interface Budget {
	readonly bucket: Throttle;
	/** Whether running out was logged (once each time it runs out). */
	logged: boolean;
}

const by_ip = cache.new<string, Budget>(TRACKED);
const by_sender = cache.new<string, Budget>(TRACKED);
const by_domain = cache.new<string, Budget>(TRACKED);
/** All remote servers together, and all <preauth/>s of the host together: one budget each. */
const remote_total = cache.new<string, Budget>(1);
const ALL_REMOTE = "all remote servers";
const host_total = cache.new<string, Budget>(1);
const ALL_CLIENTS = "all clients";

/** Whether `key` may have a token checked; logs at info once when its budget has run out. */
function has_budget(budgets: Cache<string, Budget>, key: string, what: string): boolean {
	const budget = budgets.get(key);
	if (budget === undefined || budget.bucket.peek(1)) {
		if (budget !== undefined) {
			budget.logged = false;
		}
		return true;
	}
	if (!budget.logged) {
		budget.logged = true;
		module.log("info", "Too many invalid invite tokens (%s budget) from %s: not checking more for a while", what, key);
	}
	count_limited(what);
	return false;
}

function spend(budgets: Cache<string, Budget>, key: string, max: number): void {
	let budget = budgets.get(key);
	if (budget === undefined) {
		budget = { bucket: throttle.create(max, period), logged: false };
		budgets.set(key, budget);
	}
	budget.bucket.poll(1);
}

export type PreauthLimit = "check" | "refuse" | "close";

/**
 * Before a <preauth/> token is looked up: "check" it, "refuse" it
 * unchecked, or also "close" the session. `pending`: the token is known to
 * be a pending invite's.
 */
export function preauth_limit(session: Session, pending: boolean): PreauthLimit {
	const failed = session.invites_register_failed_tokens ?? 0;
	const ip = session.ip;
	if (
		pending ||
		(failed < session_failures && (ip === undefined || has_budget(by_ip, address_key(ip), "address")) && has_budget(host_total, ALL_CLIENTS, "host"))
	) {
		return "check";
	}
	session.invites_register_failed_tokens = failed + 1;
	count_limited("session");
	if (failed === session_failures) {
		module.log("info", "Session %s presented %d invalid invite tokens: not checking more", session.id, failed);
	}
	return failed + 1 >= 2 * session_failures ? "close" : "refuse";
}

/** A <preauth/> token was invalid: it counts against the session and its address. */
export function preauth_failed(session: Session): void {
	session.invites_register_failed_tokens = (session.invites_register_failed_tokens ?? 0) + 1;
	if (session.ip !== undefined) {
		spend(by_ip, address_key(session.ip), address_failures);
	}
	spend(host_total, ALL_CLIENTS, host_failures);
}

/** Where a XEP-0379 request came from: its sender (a bare JID) and, from another server, the connection it arrived on. */
export interface RequestSource {
	readonly sender: string;
	readonly remote?: { readonly domain: string; readonly connection: Session };
}

/** The budget of one server-to-server connection, kept on the session (it goes with the connection). */
function connection_budget(connection: Session): Budget {
	let budget = connection.invites_register_token_budget as Budget | undefined;
	if (budget === undefined) {
		budget = { bucket: throttle.create(domain_failures, period), logged: false };
		connection.invites_register_token_budget = budget;
	}
	return budget;
}

/**
 * The part of a domain one party controls: the last two labels, or three
 * when those are a short second level under a country code (co.uk,
 * com.au). A heuristic without a public suffix list: at worst, unrelated
 * domains under one suffix share a budget of invalid tokens.
 */
export function base_domain(domain: string): string {
	const [two, second, tld] = string.match(domain, "(([^.]+)%.([^.]+))$");
	if (two === undefined || second === undefined || tld === undefined) {
		return domain;
	}
	if (tld.length === 2 && second.length <= 3) {
		const [three] = string.match(domain, "([^.]+%.[^.]+%.[^.]+)$");
		return three ?? two;
	}
	return two;
}

/** Whether a XEP-0379 token from `source` may be checked (see above). */
export function subscription_may_check(source: RequestSource): boolean {
	if (!has_budget(by_sender, source.sender, "sender")) {
		return false;
	}
	const remote = source.remote;
	if (remote === undefined) {
		return true;
	}
	const connection = connection_budget(remote.connection);
	if (!connection.bucket.peek(1)) {
		if (!connection.logged) {
			connection.logged = true;
			module.log("info", "Too many invalid invite tokens over server connection %s: not checking more for a while", remote.connection.id ?? remote.domain);
		}
		count_limited("connection");
		return false;
	}
	connection.logged = false;
	return (
		has_budget(by_domain, remote.domain, "server") &&
		has_budget(by_domain, base_domain(remote.domain), "base_domain") &&
		has_budget(remote_total, ALL_REMOTE, "remote")
	);
}

/** A XEP-0379 token was invalid: it counts against every budget of its source. */
export function subscription_failed(source: RequestSource): void {
	spend(by_sender, source.sender, address_failures);
	const remote = source.remote;
	if (remote !== undefined) {
		connection_budget(remote.connection).bucket.poll(1);
		spend(by_domain, remote.domain, domain_failures);
		const base = base_domain(remote.domain);
		if (base !== remote.domain) {
			spend(by_domain, base, domain_failures);
		}
		spend(remote_total, ALL_REMOTE, remote_failures);
	}
}
