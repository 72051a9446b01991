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
import { release_other_claims } from "./invite_claims";
import { get_account_invite, type InviteProblem } from "./invites";
import { st } from "./prosody_require";
import { check_token, redact } from "./tokens";
import type { SessionStanzaEvent } from "./types/events";
import type { ModInvites } from "./types/mod_invites";
import type { Session } from "./types/session";
import type { Stanza } from "./types/stanza";

function reply_invite_problem(origin: Session, stanza: Stanza, problem: InviteProblem): void {
	if (problem === "internal-error") {
		origin.send(st.error_reply(stanza, "wait", "internal-server-error", "The invite token could not be checked, please try again later"));
	} else if (problem === "token-expired") {
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "The invite token has expired"));
	} else {
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "The invite token is invalid or has already been used"));
	}
}

/** Always handles the stanza (returns true): nobody else knows this payload. */
export function handle_preauth_iq(invites: ModInvites | undefined, event: SessionStanzaEvent): true {
	const { origin, stanza } = event;
	const iq_type = stanza.attr.type;
	if (iq_type === "result" || iq_type === "error") {
		return true; // never answered (RFC 6120 §8.2.3)
	}
	if (iq_type !== "set") {
		origin.send(st.error_reply(stanza, "modify", "bad-request", "An invite token is submitted with an IQ of type 'set'"));
		return true;
	}

	// The router names this event after the IQ's first child: that is <preauth/>.
	const token = stanza.tags[0].attr.token;
	const token_problem = check_token(token);
	if (token === undefined || token_problem === "missing") {
		origin.send(st.error_reply(stanza, "modify", "bad-request", "The invite token is missing"));
		return true;
	}
	if (token_problem === "malformed") {
		origin.send(st.error_reply(stanza, "modify", "bad-request", "The invite token is malformed"));
		return true;
	}

	const [invite, problem] = get_account_invite(invites, token);
	if (invite === undefined) {
		// mod_invites has logged why, at debug level.
		reply_invite_problem(origin, stanza, problem);
		return true;
	}
	module.log("debug", "Session presented valid invite %s", redact(token));
	release_other_claims(origin, token);
	origin.validated_invite = invite;
	origin.send(st.reply(stanza));
	return true;
}
