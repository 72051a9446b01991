/**
 * mod_invites_register: account registration with invites made by
 * mod_invites, for Prosody 0.12 and 13.
 *
 * Read top to bottom: options, dependencies, then the hooks in the order a
 * client meets them — stream features, <preauth/>, the registration form,
 * registering, registered, password reset — and XEP-0379 subscription
 * requests last.
 *
 * No Lua error escapes a hook: each handler runs protected (protected()),
 * and a failure is logged and answered as an XMPP error (or leaves the
 * stanza to the normal path). Each handler is a named function whose
 * comment says why it runs where it does: the comments are kept in the
 * generated Lua, for admins who read it before loading it.
 */
import { account_deleted } from "./deleted_accounts";
import { handle_preauth_iq } from "./preauth";
import { st } from "./prosody_require";
import { account_registered, check_registration, complete_password_reset, presented_invite, refuse_with, UNINVITED } from "./registration";
import { prefill_registration_form } from "./registration_form";
import { track_registration_attempt } from "./registration_attempts";
import { add_pending_invite, load_invite_index, start_index_timers } from "./pending_invites";
import { watch_outside_invites } from "./outside_invites";
import { load_unrecorded_uses } from "./used_invites";
import { approve_preauth_subscription } from "./roster_subscriptions";
import type { AccountEvent, SessionStanzaEvent, StanzaEvent, StreamFeaturesEvent, UserRegisteredEvent, UserRegisteringEvent } from "./types/events";
import type { InviteRecord, ModInvites } from "./types/mod_invites";

// Options. A value Prosody does not understand (it logs an error) falls
// back to the safe default instead of reading as false.
const require_encryption =
	module.get_option_boolean("c2s_require_encryption", module.get_option_boolean("require_encryption", true)) ?? true;
const invite_only = module.get_option_boolean("registration_invite_only", true) ?? true;

// Dependencies: only in the server, not when prosodyctl loads the module.
let invites: ModInvites | undefined;
if (prosody.process_type === "prosody") {
	invites = module.depends("invites");
	if (invite_only) {
		module.depends("register_ibr");
	}
	// The usernames pending invites reserve (XEP-0445 §5), from this module's
	// own store (every pending invite is read once, the first time). A
	// failure is logged, and a timer tries again.
	const [loaded, err] = pcall(load_invite_index);
	if (!loaded) {
		module.log("error", "Could not read the pending invites: %s", err);
	}
	start_index_timers();
	// Used invites that storage could not delete before: refused, and deleted again.
	const [recovered, recover_err] = pcall(load_unrecorded_uses);
	if (!recovered) {
		module.log("error", "Could not read the invites whose use was not recorded: %s", recover_err);
	}
	// Invites written into storage by other processes, found without a read of all of them.
	const [watching, watch_err] = pcall(watch_outside_invites);
	if (!watching) {
		module.log("error", "Could not look for invites written by other processes: %s", watch_err);
	}
}

/**
 * Runs `handler` protected: a Lua error in it (or in what it calls) is
 * logged as "Could not <what>: <error>", and `on_error` may answer for it;
 * nothing escapes into Prosody's event loop.
 */
function protected_handler<E>(
	what: string,
	handler: (this: void, event: E) => boolean | void,
	on_error?: (this: void, event: E) => boolean | void,
): (this: void, event: E) => boolean | void {
	return (event) => {
		const [ok, result] = pcall(handler, event);
		if (ok) {
			return result;
		}
		module.log("error", "Could not %s: %s", what, result);
		return on_error !== undefined ? on_error(event) : undefined;
	};
}

/** invite-created: a new invite is pending, and reserves its username, at once. */
function invite_created(invite: InviteRecord): void {
	add_pending_invite(invite);
}

// Stream features, built once.
const legacy_invite_feature = st.stanza("register", { xmlns: "urn:xmpp:invite" });
const invite_feature = st.stanza("register", { xmlns: "urn:xmpp:ibr-token:0" });

/**
 * Stream features: tell clients that are not signed in that registration
 * with an invite token is possible (XEP-0401 0.3.0 and XEP-0445), only
 * over an encrypted connection unless c2s_require_encryption is off.
 */
function offer_invite_registration(event: StreamFeaturesEvent): void {
	const session = event.origin;
	if (session.type !== "c2s_unauthed" || (require_encryption && !session.secure)) {
		return;
	}
	const features = event.features;
	features.add_child(legacy_invite_feature);
	features.add_child(invite_feature);
}

/**
 * A client presents an invite token before registering (<preauth/>).
 * Always handled here: nobody else knows this payload.
 */
function preauth(event: SessionStanzaEvent): true {
	return handle_preauth_iq(invites, event);
}

/** A <preauth/> that failed with a Lua error is still answered: try again later. */
function preauth_failed_to_run(event: SessionStanzaEvent): true {
	const stanza = event.stanza;
	if (stanza.attr.type === "set" || stanza.attr.type === "get") {
		event.origin.send(st.error_reply(stanza, "wait", "internal-server-error", "The invite token could not be checked, please try again later"));
	}
	return true;
}

/**
 * The registration form is pre-filled with the username an invite is bound
 * to; a registration is watched until it is answered, so that the claims
 * on its invite and username last as long as it (invite_claims.ts).
 * Priority 1: before mod_register_ibr, which answers both.
 */
function registration_iq(event: SessionStanzaEvent): void {
	const [ok, err] = pcall(prefill_registration_form, event);
	if (!ok) {
		module.log("error", "Could not prepare the registration form: %s", err);
	}
	track_registration_attempt(event);
}

/**
 * A registration attempt (user-registering): allowed with a valid invite
 * (or without, when not invite-only), and never for a name reserved for
 * another invite. Priority -10: after other modules' checks, so that an
 * invite is not claimed by a registration they refuse; from the check to
 * the claim nothing may yield (registration.ts).
 */
function registering(event: UserRegisteringEvent): void {
	if (invite_only && presented_invite(event) === undefined) {
		// Without an invite: refused in invite-only mode (unless another module already refused).
		if (event.allowed !== false) {
			refuse_with(event, UNINVITED);
		}
		return;
	}
	check_registration(event);
}

/** A registration that could not be checked (a Lua error) is refused as a temporary failure, never let through. */
function registering_failed_to_run(event: UserRegisteringEvent): void {
	refuse_with(event, { type: "wait", condition: "internal-server-error", text: "The invite could not be checked, please try again later" });
}

/**
 * Registration succeeded (user-registered): use the invite and apply what
 * it carries. Every new account's creation time is noted where neither the
 * auth provider nor mod_register_ibr keeps one (0.12, web registration):
 * an invite made by or for an earlier account of the same name is then
 * told apart.
 */
function registered(event: UserRegisteredEvent): void {
	account_registered(event);
}

/** An invite reset the password of an existing account: use it. */
function password_reset(event: UserRegisteringEvent): void {
	complete_password_reset(event);
}

/**
 * An account of this host was deleted: the pending invites it made, and
 * the reset invites for it, go with it. usermanager fires this on
 * prosody.events, for every host.
 */
function account_gone(event: AccountEvent): void {
	if (event.host === module.host) {
		account_deleted(invites, event.username);
	}
}

/**
 * XEP-0379: a subscription request that carries a token issued by the
 * user is approved as if the user had approved it. Every presence to a
 * local user passes here, so anything else returns at the first check,
 * before any protected call. Priority 1: before mod_presence, which
 * handles the rest (and every request this one leaves: an invalid token,
 * a spent budget).
 */
function subscription_request(event: StanzaEvent): true | undefined {
	const stanza = event.stanza;
	if (stanza.attr.type !== "subscribe") {
		return undefined;
	}
	const token = stanza.get_child("preauth", "urn:xmpp:pars:0")?.attr.token;
	if (token === undefined) {
		return undefined;
	}
	const [ok, handled] = pcall(approve_preauth_subscription, invites, event, token);
	if (!ok) {
		module.log("error", "Could not handle a pre-authenticated subscription request: %s", handled);
		return undefined;
	}
	return handled;
}

module.hook("invite-created", protected_handler("record a new invite", invite_created));
module.hook("stream-features", protected_handler("offer registration with invites", offer_invite_registration));
module.hook("stanza/iq/urn:xmpp:pars:0:preauth", protected_handler("handle an invite token", preauth, preauth_failed_to_run));
module.hook("stanza/iq/jabber:iq:register:query", protected_handler("follow a registration", registration_iq), 1);
module.hook("user-registering", protected_handler("check a registration with its invite", registering, registering_failed_to_run), -10);
module.hook("user-registered", protected_handler("complete a registration with its invite", registered));
module.hook("user-password-reset", protected_handler("use the invite that reset a password", password_reset));
module.hook_global<AccountEvent>("user-deleted", protected_handler("delete the invites of a deleted account", account_gone));
module.hook("presence/bare", subscription_request, 1);
