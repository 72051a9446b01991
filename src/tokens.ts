/**
 * Invite tokens as they arrive from clients: checked for shape before any
 * storage lookup, and kept out of the logs.
 */

/** mod_invites makes 24-character tokens (util.id.medium); 128 leaves room for other generators. */
const MAX_TOKEN_LENGTH = 128;

export type TokenProblem = "missing" | "malformed" | "unknown";

/**
 * Why a token cannot be one mod_invites made, or nil when it might be.
 * "missing" and "malformed" (absurdly long) are the client's mistakes;
 * "unknown" is a token no mod_invites makes (they are util.id's base64url
 * characters in every version), known to be invalid without asking
 * storage. (XML cannot carry control characters.)
 */
export function check_token(token: string | undefined): TokenProblem | undefined {
	if (token === undefined || token === "") {
		return "missing";
	}
	if (token.length > MAX_TOKEN_LENGTH) {
		return "malformed";
	}
	if (string.find(token, "[^%w_%-]")[0] !== undefined) {
		return "unknown";
	}
	return undefined;
}

/**
 * Tokens are secrets: the log gets enough to tell two apart, only at debug
 * level, never the token itself.
 */
export function redact(token: string): string {
	return `${string.sub(token, 1, 4)}…`;
}

/** 2^47 as a float: the hash stays below it, so that h * 31 + 255 stays exact in a double (and in 32-bit fengari). */
const HASH_MODULUS = 140737488355328.0;

/**
 * A number standing for a token, for remembering many tokens without
 * keeping a string for each (each string is an object the garbage
 * collector visits at every cycle: 100 000 of them cost about 4 ms of CPU
 * per registration on Prosody 13). A polynomial hash below 2^47, in float
 * arithmetic on every Lua: two tokens share one about once in 10^14 pairs;
 * a false "known" only skips a second look or a budget.
 */
export function token_hash(token: string): number {
	let h = 0.5;
	for (let i = 1; i <= token.length; i++) {
		h = (h * 31 + string.byte(token, i)) % HASH_MODULUS;
	}
	return h;
}
