/**
 * One registration at a time per single-use invite.
 *
 * Between user-registering (where the invite is checked) and user-registered
 * (where it is used), mod_register_ibr creates the account, and storage may
 * let other sessions run meanwhile. Two sessions that presented the same
 * token could then both pass the check and both create an account. So the
 * registration that passes the check claims the invite — in the same step,
 * without yielding — and the claim is released once the invite has been
 * used, or once its holder is gone.
 */
import { use_invite } from "./invites";
import type { ValidInvite } from "./types/mod_invites";
import type { Session } from "./types/session";

interface Claim {
	/** The registering session, for in-band registration. */
	readonly session?: Session;
	/** The event of a registration without a session (web registration). */
	readonly event?: object;
	/** For claims without a session: when they lapse. */
	readonly expires: number;
}

/**
 * How long a registration without a session may hold an invite: those
 * cannot be seen to end, so their claim lapses.
 */
const SESSIONLESS_CLAIM_SECONDS = 300;

const claims = new LuaTable<string, Claim>();

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

/** Whether `token` is a single-use invite used here lately. */
export function was_used(token: string): boolean {
	return used_now.has(token) || used_before.has(token);
}

/** A claim lapses when its session has closed or authenticated, or (without session) after a while. */
function is_held(claim: Claim): boolean {
	const session = claim.session;
	if (session !== undefined) {
		return session.destroyed !== true && session.type === "c2s_unauthed";
	}
	return os.time() < claim.expires;
}

/**
 * Claims `token` for this registration. False when another live
 * registration holds it, or when it was burned.
 */
export function claim_invite(token: string, session: Session | undefined, event: object): boolean {
	if (was_used(token)) {
		return false;
	}
	const current = claims.get(token);
	if (current !== undefined && is_held(current)) {
		const same = session !== undefined ? current.session === session : current.event === event;
		if (!same) {
			return false;
		}
	}
	if (session !== undefined) {
		claims.set(token, { session, expires: 0 });
	} else {
		claims.set(token, { event, expires: os.time() + SESSIONLESS_CLAIM_SECONDS });
	}
	return true;
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

/**
 * Uses an invite once what it allowed has succeeded: a single-use invite is
 * refused from then on, and others may have a reusable one.
 */
export function consume_invite(invite: ValidInvite): void {
	use_invite(invite);
	if (invite.reusable) {
		release_invite(invite.token);
	} else {
		mark_used(invite.token);
	}
}
