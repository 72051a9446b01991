/**
 * mod_invites_register: account registration with invites made by
 * mod_invites, for Prosody 0.12 and 13.
 *
 * Read top to bottom: options, dependencies, then the hooks in the order a
 * client meets them — stream features, <preauth/>, the registration form,
 * registering, registered, password reset — and XEP-0379 subscription
 * requests last.
 *
 * No Lua error escapes a hook: each handler runs protected, and a failure
 * is logged and answered as an XMPP error (or leaves the stanza to the
 * normal path).
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
import type { AccountEvent } from "./types/events";
import type { ModInvites } from "./types/mod_invites";

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

// A new invite is pending, and reserves its username, at once.
module.hook("invite-created", (invite) => {
	const [ok, err] = pcall(add_pending_invite, invite);
	if (!ok) {
		module.log("error", "Could not record a new invite: %s", err);
	}
});

// Stream features: tell clients that are not signed in that registration
// with an invite token is possible.
const legacy_invite_feature = st.stanza("register", { xmlns: "urn:xmpp:invite" });
const invite_feature = st.stanza("register", { xmlns: "urn:xmpp:ibr-token:0" });
module.hook("stream-features", (event) => {
	const session = event.origin;
	if (session.type !== "c2s_unauthed" || (require_encryption && !session.secure)) {
		return;
	}
	const features = event.features;
	features.add_child(legacy_invite_feature);
	features.add_child(invite_feature);
});

// A client presents an invite token before registering.
module.hook("stanza/iq/urn:xmpp:pars:0:preauth", (event) => {
	const [ok, err] = pcall(handle_preauth_iq, invites, event);
	if (!ok) {
		module.log("error", "Could not handle an invite token: %s", err);
		const stanza = event.stanza;
		if (stanza.attr.type === "set" || stanza.attr.type === "get") {
			event.origin.send(st.error_reply(stanza, "wait", "internal-server-error", "The invite token could not be checked, please try again later"));
		}
	}
	return true;
});

// The registration form: pre-filled with the username an invite is bound to;
// a registration: watched until it is answered (claims last as long).
// Before mod_register_ibr, which answers both.
module.hook(
	"stanza/iq/jabber:iq:register:query",
	(event) => {
		const [ok, err] = pcall(prefill_registration_form, event);
		if (!ok) {
			module.log("error", "Could not prepare the registration form: %s", err);
		}
		const [tracked, track_err] = pcall(track_registration_attempt, event);
		if (!tracked) {
			module.log("error", "Could not follow a registration: %s", track_err);
		}
	},
	1,
);

// Registration attempt: allowed with a valid invite (or without, when not
// invite-only), and never for a name reserved for another invite. Runs
// after other modules' checks, so that an invite is not claimed by a
// registration they refuse.
module.hook(
	"user-registering",
	(event) => {
		if (invite_only && presented_invite(event) === undefined) {
			// Without an invite: refused in invite-only mode (unless another module already refused).
			if (event.allowed !== false) {
				refuse_with(event, UNINVITED);
			}
			return;
		}
		const [ok, err] = pcall(check_registration, event);
		if (!ok) {
			module.log("error", "Could not check the registration of %s: %s", event.username, err);
			refuse_with(event, { type: "wait", condition: "internal-server-error", text: "The invite could not be checked, please try again later" });
		}
	},
	-10,
);

// Registration succeeded: use the invite and apply what it carries. Every
// new account's creation time is noted where neither the auth provider
// nor mod_register_ibr keeps one (0.12, web registration): an invite made
// by or for an earlier account of the same name is then told apart.
module.hook("user-registered", (event) => {
	const [ok, err] = pcall(account_registered, event);
	if (!ok) {
		module.log("error", "Could not complete the registration of %s with its invite: %s", event.username, err);
	}
});

// An invite reset the password of an existing account: use it.
module.hook("user-password-reset", (event) => {
	const [ok, err] = pcall(complete_password_reset, event);
	if (!ok) {
		module.log("error", "Could not use the invite that reset the password of %s: %s", event.username, err);
	}
});

// An account of this host was deleted: the pending invites it made, and
// the reset invites for it, go with it. (usermanager fires this on
// prosody.events, for every host.)
module.hook_global<AccountEvent>("user-deleted", (event) => {
	if (event.host !== module.host) {
		return;
	}
	const [ok, err] = pcall(account_deleted, invites, event.username);
	if (!ok) {
		module.log("error", "Could not delete the invites of deleted account %s: %s", event.username, err);
	}
});

// XEP-0379: subscription requests that carry a token issued by the user
// are approved as if the user had approved them. Every presence to a local
// user passes here, so anything else returns at the first check. Priority
// 1: before mod_presence, which handles the rest.
module.hook(
	"presence/bare",
	(event) => {
		const stanza = event.stanza;
		if (stanza.attr.type !== "subscribe") {
			return;
		}
		const preauth = stanza.get_child("preauth", "urn:xmpp:pars:0");
		if (preauth === undefined) {
			return;
		}
		const token = preauth.attr.token;
		if (token === undefined) {
			return;
		}
		const [ok, handled] = pcall(approve_preauth_subscription, invites, event, token);
		if (!ok) {
			module.log("error", "Could not handle a pre-authenticated subscription request: %s", handled);
			return;
		}
		return handled;
	},
	1,
);
