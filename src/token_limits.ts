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
 *  - per IP address (IPv6: per /64 network, address_keys.ts), across sessions, and per sender and remote domain of
 *    XEP-0379 requests: a budget of failures that refills over
 *    `invite_token_failure_period` seconds (util.throttle, a token bucket).
 * Memory stays bounded: at most TRACKED addresses of each kind are kept,
 * the least recently used go first (util.cache).
 */
import { address_key } from "./address_keys";
import { positive_option } from "./options";
import { prosody_require } from "./prosody_require";
import type { Session } from "./types/session";
import type { Cache, Throttle } from "./types/throttle";

const throttle = prosody_require("util.throttle");
const cache = prosody_require("util.cache");

const session_failures = positive_option("invite_token_session_failures", 5);
const address_failures = positive_option("invite_token_address_failures", 10);
const domain_failures = positive_option("invite_token_domain_failures", 50);
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
		module.log("info", "Too many invalid invite tokens from %s %s: not checking more for a while", what, key);
	}
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
	if (pending || (failed < session_failures && (ip === undefined || has_budget(by_ip, address_key(ip), "address")))) {
		return "check";
	}
	session.invites_register_failed_tokens = failed + 1;
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
}

/** Whether a XEP-0379 token from `sender` (a bare JID; `domain` when it came from a remote server) may be checked. */
export function subscription_may_check(sender: string, domain: string | undefined): boolean {
	return has_budget(by_sender, sender, "sender") && (domain === undefined || has_budget(by_domain, domain, "server"));
}

/** A XEP-0379 token was invalid: it counts against its sender and remote domain. */
export function subscription_failed(sender: string, domain: string | undefined): void {
	spend(by_sender, sender, address_failures);
	if (domain !== undefined) {
		spend(by_domain, domain, domain_failures);
	}
}
