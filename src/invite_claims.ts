/**
 * One registration at a time per single-use invite, and per new username.
 *
 * Between user-registering (where the invite is checked) and user-registered
 * (where it is used), mod_register_ibr creates the account, and storage may
 * let other sessions run meanwhile. Two sessions that presented the same
 * token could then both pass the check and both create an account. So the
 * registration that passes the check claims the invite — in the same step,
 * without yielding — and the claim is released once the invite has been
 * used, or once its holder is gone and its registration can no longer be
 * writing the account. The username a registration creates is claimed the
 * same way, so that two registrations of one name never both succeed.
 */
import { positive_option } from "./options";
import { current_attempt, type RegistrationAttempt } from "./registration_attempts";
import type { Session } from "./types/session";

interface Claim {
	/** The registering session, for in-band registration. */
	readonly session?: Session;
	/** Its registration attempt, when the registration IQ's hook saw it. */
	readonly attempt?: RegistrationAttempt;
	/** The event of a registration without a session (web registration). */
	readonly event?: object;
	/** os.time() of the claim. */
	readonly claimed_at: number;
}

/**
 * The longest a registration whose session is gone may hold its claims
 * while its answer was not seen (`invite_registration_timeout`, seconds):
 * longer than any account write takes, so that a dropped connection does
 * not let a second registration through while the first one is still
 * creating its account.
 */
const IN_FLIGHT_SECONDS = positive_option("invite_registration_timeout", 60);
/**
 * How long a registration without a session (web registration) holds its
 * claims: its end cannot be seen unless it succeeds, so a failed one frees
 * the invite and the name this many seconds later.
 */
const SESSIONLESS_CLAIM_SECONDS = 10;

/** token → the registration holding that single-use invite. */
const claims = new LuaTable<string, Claim>();
/** username → the registration creating that account. */
const name_claims = new LuaTable<string, Claim>();

/**
 * The tokens of the last single-use invites used here. mod_invites ignores
 * a failed delete (the storage layer logs it), which would leave a used
 * invite valid; these are refused whatever storage says. Two generations
 * of at most USED_GENERATION tokens each: memory stays bounded, and no key
 * is ever deleted from a full table (Lua does not reuse the slot of a
 * deleted key, so a table kept at a fixed size by deleting one key per
 * insert is rebuilt on every insert). USED_GENERATION is read once, at
 * load, from `invites_register_used_tokens_generation` (a positive integer,
 * default 4096; anything else means the default). The option exists for
 * tests (a small generation reaches the turnover in a few registrations)
 * and for tuning memory; it is not meant for everyday configuration.
 */
const configured_generation = module.get_option_number("invites_register_used_tokens_generation", 4096);
const USED_GENERATION =
	configured_generation !== undefined && configured_generation >= 1 && Math.floor(configured_generation) === configured_generation
		? configured_generation
		: 4096;
let used_now = new LuaTable<string, true>();
let used_before = new LuaTable<string, true>();
let used_now_count = 0;

/** Used invites that storage still holds (used_invites.ts): refused until they are deleted, however many come after. */
const burned = new LuaTable<string, true>();

/** Whether `token` is a single-use invite used here lately, or one whose use storage did not record. */
export function was_used(token: string): boolean {
	return used_now.has(token) || used_before.has(token) || burned.has(token);
}

/** `token` was used but is still stored: refused until unburn(). */
export function burn(token: string): void {
	burned.set(token, true);
}

/** A burned invite is deleted from storage at last. */
export function unburn(token: string): void {
	burned.delete(token);
}

/**
 * Whether a claim still holds: while its session is open and not signed
 * in (for a name: until its registration was answered); after its session
 * closed, while its registration may still be writing the account (its
 * answer not seen, for at most IN_FLIGHT_SECONDS); without session, for
 * SESSIONLESS_CLAIM_SECONDS.
 */
function is_held(claim: Claim, until_answered: boolean): boolean {
	const session = claim.session;
	const now = os.time();
	if (session !== undefined) {
		const in_flight = claim.attempt !== undefined && !claim.attempt.done;
		if (session.destroyed !== true && session.type === "c2s_unauthed") {
			return !until_answered || claim.attempt === undefined || in_flight;
		}
		return in_flight && now < claim.claimed_at + IN_FLIGHT_SECONDS;
	}
	return now < claim.claimed_at + SESSIONLESS_CLAIM_SECONDS;
}

/**
 * Claims `key` in `table` for this registration; false when another
 * registration holds it. `until_answered`: the claim ends once the
 * registration was answered (names), rather than with its session
 * (invites, which the session may retry with another name).
 */
function claim_in(table: LuaTable<string, Claim>, key: string, session: Session | undefined, event: object, until_answered: boolean): boolean {
	const current = table.get(key);
	if (current !== undefined && is_held(current, until_answered)) {
		const same = session !== undefined ? current.session === session : current.event === event;
		if (!same) {
			return false;
		}
	}
	const claimed_at = os.time();
	if (session !== undefined) {
		table.set(key, { session, attempt: current_attempt(), claimed_at });
	} else {
		table.set(key, { event, claimed_at });
	}
	return true;
}

/**
 * Claims `token` for this registration. False when another live
 * registration holds it, or when it was burned.
 */
export function claim_invite(token: string, session: Session | undefined, event: object): boolean {
	return !was_used(token) && claim_in(claims, token, session, event, false);
}

/**
 * Claims the username this registration creates: false while another
 * registration of the same name is in progress (mod_register_ibr checks
 * that the name is free and then creates the account, and storage may let
 * another registration run in between: the second would overwrite the
 * first one's password).
 */
export function claim_username(username: string, session: Session | undefined, event: object): boolean {
	// (An event without a name, which no registration module fires, creates no account.)
	return typeof username !== "string" || claim_in(name_claims, username, session, event, true);
}

/** The account exists now, or its registration gave up: the name's claim ends. */
export function release_username(username: string): void {
	if (typeof username === "string") {
		name_claims.delete(username);
	}
}

/** Ends the claim on `token` (the invite was used, or the registration gave up on it). */
export function release_invite(token: string): void {
	claims.delete(token);
}

/** Ends any claim `session` holds on a token other than `token` (it presented a new invite). */
export function release_other_claims(session: Session, token: string): void {
	for (const [claimed, claim] of claims) {
		if (claim.session === session && claimed !== token) {
			claims.delete(claimed);
		}
	}
}

/** A single-use invite was used: its claim ends, and it is refused from now on. */
export function mark_used(token: string): void {
	claims.delete(token);
	if (used_now.has(token)) {
		return;
	}
	if (used_now_count >= USED_GENERATION) {
		used_before = used_now;
		used_now = new LuaTable();
		used_now_count = 0;
	}
	used_now.set(token, true);
	used_now_count += 1;
}
