/**
 * Roster subscriptions made by invites: the mutual subscription between a
 * new user and their inviter, and XEP-0379 pre-authenticated subscription
 * requests.
 */
import { claim_invite, release_invite } from "./invite_claims";
import { count_token, refused_token } from "./metrics";
import { invite_used } from "./used_invites";
import { check_named_accounts, describe_void, named_accounts } from "./invite_accounts";
import { get_contact_invite } from "./invites";
import { is_pending_token } from "./pending_invites";
import { jid, prosody_require, rostermanager, st, usermanager } from "./prosody_require";
import { check_token, redact } from "./tokens";
import { subscription_failed, subscription_may_check, type RequestSource } from "./token_limits";
import type { StanzaEvent } from "./types/events";
import type { ModInvites, ValidInvite } from "./types/mod_invites";
import type { Session } from "./types/session";

const cache = prosody_require("util.cache");

/**
 * A one-way subscription: `user` sees `contact`'s presence. The same four
 * roster steps as a subscription request and its approval, without stanzas.
 */
function subscribe(host: string, user: string, contact: string): void {
	const user_jid = `${user}@${host}`;
	const contact_jid = `${contact}@${host}`;
	if (!rostermanager.set_contact_pending_out(user, host, contact_jid)) {
		module.log("warn", "Could not record the subscription request of %s to %s", user_jid, contact_jid);
	}
	if (!rostermanager.set_contact_pending_in(contact, host, user_jid)) {
		module.log("debug", "No pending request recorded for %s from %s (already subscribed?)", contact_jid, user_jid);
	}
	if (!rostermanager.subscribed(contact, host, user_jid)) {
		module.log("warn", "Could not record that %s approved %s", contact_jid, user_jid);
	}
	if (!rostermanager.process_inbound_subscription_approval(user, host, contact_jid)) {
		module.log("debug", "No approval recorded for %s by %s (already subscribed?)", user_jid, contact_jid);
	}
}

/**
 * A mutual subscription between two local users (a new user and their
 * inviter), pushed to both users' clients.
 */
export function subscribe_both(host: string, inviter: string, username: string): void {
	if (!usermanager.user_exists(inviter, host)) {
		module.log("info", "Not subscribing %s to their inviter %s, whose account no longer exists", username, inviter);
		return;
	}
	module.log("debug", "Creating mutual subscription between %s and %s", inviter, username);
	subscribe(host, inviter, username);
	subscribe(host, username, inviter);
	rostermanager.roster_push(inviter, host, `${username}@${host}`);
	rostermanager.roster_push(username, host, `${inviter}@${host}`);
}

/**
 * Sends the user's available presence to a contact that has just been
 * approved, as mod_presence does when it approves a request: from each
 * available resource, or "unavailable" when there is none.
 */
function send_presence_to_new_contact(user_jid: string, contact: string): void {
	let sent = 0;
	const user = prosody.bare_sessions.get(user_jid);
	if (user !== undefined) {
		for (const [, session] of user.sessions) {
			const presence = session.presence;
			if (presence !== undefined) {
				presence.attr.to = contact;
				prosody.core_post_stanza(session, presence, true);
				presence.attr.to = undefined;
				sent += 1;
			}
		}
	}
	if (sent === 0) {
		module.send(st.presence({ from: user_jid, to: contact, type: "unavailable" }));
	}
}

/**
 * Approves a subscription request on behalf of the user, as if their client
 * had: roster updated and pushed, the invite used, the contact told, and a
 * request sent back so that the subscription becomes mutual. Returns false,
 * having changed nothing, when the request should take the normal path.
 */
function approve(username: string, host: string, contact: string, invite: ValidInvite): boolean {
	// Without the request stanza: it carries the token, which has no place in the roster store.
	if (!rostermanager.set_contact_pending_in(username, host, contact)) {
		return false; // already subscribed, or the roster could not be saved
	}
	if (!rostermanager.subscribed(username, host, contact)) {
		// Leave no half-approved request behind: mod_presence records it again.
		rostermanager.unsubscribed(username, host, contact);
		return false;
	}
	invite_used(invite);
	rostermanager.roster_push(username, host, contact);

	const user_jid = `${username}@${host}`;
	module.send(st.presence({ from: user_jid, to: contact, type: "subscribed" }));
	send_presence_to_new_contact(user_jid, contact);

	// Send back a subscription request (the goal is a mutual subscription).
	const [already_subscribed] = rostermanager.is_user_subscribed(username, host, contact);
	if (!already_subscribed && !rostermanager.is_contact_pending_out(username, host, contact)) {
		if (rostermanager.set_contact_pending_out(username, host, contact)) {
			rostermanager.roster_push(username, host, contact);
			module.send(st.presence({ from: user_jid, to: contact, type: "subscribe" }));
		} else {
			module.log("warn", "Could not record the subscription request of %s to %s", user_jid, contact);
		}
	}
	return true;
}

/** Pending tokens that failed as a XEP-0379 token (at most TRACKED_FAILED, the least recent go first): budgets apply to them again. */
const TRACKED_FAILED = 1000;
const failed_pending = cache.new<string, true>(TRACKED_FAILED);

/**
 * XEP-0379: a subscription request to a local user carrying a token that
 * user issued is approved at once. Returns true when it was (the stanza is
 * handled); nothing when the request should take the normal path: the token
 * is not valid for this user, or approving it failed.
 */
export function approve_preauth_subscription(invites: ModInvites | undefined, event: StanzaEvent, token: string): true | undefined {
	const stanza = event.stanza;
	const [username, host] = jid.split(stanza.attr.to);
	const contact = jid.bare(stanza.attr.from);
	if (username === undefined || host === undefined || contact === undefined || contact === `${username}@${host}`) {
		return undefined;
	}
	if (check_token(token) !== undefined) {
		module.log("debug", "Ignoring malformed preauth token in subscription request from %s to %s", contact, username);
		return undefined;
	}
	// A remote server relays many senders: its connection and domains have budgets of their own.
	const origin = event.origin;
	const remote_domain = origin.type === "s2sin" || origin.type === "s2sout" ? jid.host(contact) : undefined;
	const source: RequestSource = { sender: contact, remote: remote_domain !== undefined ? { domain: remote_domain, connection: origin as Session } : undefined };
	// A pending invite's token (a contact invite with registration, known
	// without a read) is checked whatever the budgets say, once: a flood
	// from other servers does not lock out a real invitee, and a pending
	// token that failed here (another user's, an account invite's) goes
	// through the budgets from then on, so that no token held by an
	// attacker buys more than one lookup beyond them.
	const trusted = is_pending_token(token) && !failed_pending.get(token);
	if (!trusted && !subscription_may_check(source)) {
		count_token("subscription", "limited");
		return undefined; // over the limit: the request takes the normal path
	}
	const [invite, problem] = get_contact_invite(invites, token, username);
	if (invite === undefined) {
		module.log("debug", "Not pre-approving subscription from %s to %s with token %s: %s", contact, username, redact(token), problem);
		if (problem !== "internal-error") {
			subscription_failed(source);
			if (trusted) {
				failed_pending.set(token, true);
			}
		}
		count_token("subscription", refused_token(problem ?? "token-invalid"));
		return undefined;
	}
	// The user it belongs to must still stand (13: not disabled). (Deleting the account deletes these invites with it.)
	const void_problem = check_named_accounts(named_accounts(invite, host), undefined, host, false);
	if (void_problem !== undefined) {
		module.log("debug", "Not pre-approving subscription from %s to %s with token %s: %s", contact, username, redact(token), describe_void(void_problem));
		count_token("subscription", "void");
		return undefined;
	}
	if (!claim_invite(token, undefined, stanza)) {
		module.log("debug", "Contact invite %s is in use by another request, or was just used", redact(token));
		return undefined;
	}
	module.log("debug", "Approving inbound subscription to %s from %s", username, contact);
	const [ok, approved] = pcall(approve, username, host, contact, invite);
	release_invite(token);
	if (!ok) {
		module.log("error", "Could not pre-approve the subscription of %s to %s: %s", contact, username, approved);
		return undefined;
	}
	if (approved) {
		count_token("subscription", "valid");
	}
	return approved ? true : undefined;
}
