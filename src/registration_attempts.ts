/**
 * An in-band registration in progress. The registration IQ (type set) is
 * seen here before mod_register_ibr handles it; the attempt is done once
 * mod_register_ibr has answered it (result or error, the same IQ id).
 * Claims (invite_claims.ts) use this to tell a registration that failed
 * from one that may still be writing its account when its session closed
 * (a closed session's answers are discarded, so its attempt stays
 * undone).
 */
import type { SessionStanzaEvent } from "./types/events";
import type { ValidInvite } from "./types/mod_invites";

/**
 * An in-band registration in progress: made when its IQ is seen, done once
 * mod_register_ibr has answered it. One whose answer was not seen (its
 * session closed first) may still be writing the account.
 */
export interface RegistrationAttempt {
	done: boolean;
	/** The invite and username user-registering allowed it with (a closed session's own fields are wiped). */
	invite?: ValidInvite;
	username?: string;
}

/**
 * The attempt each coroutine is running: user-registering fires in the
 * same coroutine as the IQ's hooks, and the session's own fields are
 * wiped when it closes (so they cannot carry it). Weak keys: a finished
 * coroutine's entry goes with it.
 */
const attempts = setmetatable(new LuaTable<LuaThread, RegistrationAttempt>(), { __mode: "k" });

/** The registration attempt of the running coroutine, if its IQ was seen. */
export function current_attempt(): RegistrationAttempt | undefined {
	const thread = coroutine.running();
	return thread !== undefined ? attempts.get(thread) : undefined;
}

export function track_registration_attempt(event: SessionStanzaEvent): void {
	const { origin, stanza } = event;
	if (stanza.attr.type !== "set" || origin.type !== "c2s_unauthed") {
		return;
	}
	const attempt: RegistrationAttempt = { done: false };
	const thread = coroutine.running();
	if (thread !== undefined) {
		attempts.set(thread, attempt);
	}
	const id = stanza.attr.id;
	const send = origin.send;
	const watching = (reply: Parameters<typeof send>[0]) => {
		if (typeof reply !== "string" && reply.name === "iq" && reply.attr.id === id && (reply.attr.type === "result" || reply.attr.type === "error")) {
			attempt.done = true;
			if (origin.send === watching) {
				origin.send = send;
			}
		}
		return send(reply);
	};
	origin.send = watching;
}
