/**
 * `<iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq>`: a
 * client presents an invite token before In-Band Registration
 * (XEP-0401 0.3.0, XEP-0445). A valid invite is remembered on the session
 * as `validated_invite`, where user-registering finds it. This is the only
 * place where an invite's expiry is checked for the session (XEP-0445 §4).
 *
 * A token that is unknown, used, deleted or expired is `item-not-found`
 * (XEP-0445 §4): the current Conversations and Snikket apps take only that
 * condition for "invalid invite".
 */
import { release_other_claims, was_used } from "./invite_claims";
import { count_token, refused_token } from "./metrics";
import { describe_void, record_void } from "./invite_accounts";
import { get_account_invite, type InviteProblem } from "./invites";
import { st } from "./prosody_require";
import { check_token, redact } from "./tokens";
import { preauth_failed, preauth_limit } from "./token_limits";
import { forget_invite, is_pending_token } from "./pending_invites";
import type { SessionStanzaEvent } from "./types/events";
import type { InviteRecord, ModInvites } from "./types/mod_invites";
import type { Session } from "./types/session";
import type { Stanza } from "./types/stanza";

/** Why a token cannot be used here: mod_invites' reasons, or the accounts it names no longer stand ("token-void"). */
type PreauthProblem = InviteProblem | "token-void";

function reply_invite_problem(origin: Session, stanza: Stanza, problem: PreauthProblem): void {
	if (problem === "token-void") {
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "This invite is no longer valid"));
	} else if (problem === "internal-error") {
		origin.send(st.error_reply(stanza, "wait", "internal-server-error", "The invite token could not be checked, please try again later"));
	} else if (problem === "token-expired") {
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "The invite token has expired"));
	} else {
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "The invite token is invalid or has already been used"));
	}
}

/**
 * Whether the local accounts a valid invite names (its creator, the
 * account it resets) still stand, by its stored record (for its creation
 * time). Only such invites cost more reads: each named account.
 */
function check_invite_accounts(record: InviteRecord): PreauthProblem | undefined {
	const host = module.host;
	const void_problem = record_void(record, host, true);
	if (void_problem === undefined) {
		return undefined;
	}
	if (void_problem.reason === "unknown") {
		return "internal-error";
	}
	module.log("info", "Refusing %s", describe_void(void_problem));
	return "token-void";
}

/** Always handles the stanza (returns true): nobody else knows this payload. */
export function handle_preauth_iq(invites: ModInvites | undefined, event: SessionStanzaEvent): true {
	const { origin, stanza } = event;
	const iq_type = stanza.attr.type;
	if (iq_type !== "set" && iq_type !== "get") {
		return true; // result and error are never answered (RFC 6120 §8.2.3); the router passes nothing else
	}
	// XEP-0445 sends a 'set'; a 'get' is taken the same, as Prosody's own module
	// does: some Snikket Android builds sent one.

	// The router names this event after the IQ's first child: that is <preauth/>.
	const token = stanza.tags[0].attr.token;
	const token_problem = check_token(token);
	if (token === undefined || token_problem === "missing") {
		count_token("preauth", "malformed");
		origin.send(st.error_reply(stanza, "modify", "bad-request", "The invite token is missing"));
		return true;
	}
	if (token_problem === "malformed") {
		count_token("preauth", "malformed");
		origin.send(st.error_reply(stanza, "modify", "bad-request", "The invite token is malformed"));
		return true;
	}
	if (token_problem === "unknown") {
		count_token("preauth", "invalid");
		reply_invite_problem(origin, stanza, "token-invalid"); // no lookup needed
		return true;
	}

	// Each lookup reads storage: a client that keeps presenting invalid tokens is stopped.
	const limit = preauth_limit(origin, is_pending_token(token));
	if (limit !== "check") {
		count_token("preauth", "limited");
		origin.send(st.error_reply(stanza, "wait", "resource-constraint", "Too many invalid invite tokens, please check your invite and try again later"));
		if (limit === "close") {
			origin.close({ condition: "policy-violation", text: "Too many invalid invite tokens" });
		}
		return true;
	}

	const [invite, invite_problem, record] = get_account_invite(invites, token);
	// A single-use invite used here is refused, also when storage still holds it (used_invites.ts).
	const problem: PreauthProblem | undefined = invite === undefined ? invite_problem : was_used(token) ? "token-invalid" : check_invite_accounts(record!);
	if (invite === undefined || problem !== undefined) {
		// A void invite is a real token, not a guess: it costs no budget, and
		// is no longer pending.
		if (problem === "token-void") {
			forget_invite(token);
		} else if (problem !== "internal-error") {
			preauth_failed(origin);
		}
		count_token("preauth", refused_token(problem ?? "token-invalid"));
		reply_invite_problem(origin, stanza, problem ?? "token-invalid");
		return true;
	}
	count_token("preauth", "valid");
	module.log("debug", "Session presented valid invite %s", redact(token));
	release_other_claims(origin, token);
	origin.validated_invite = invite;
	origin.send(st.reply(stanza));
	return true;
}
