/**
 * Account registration with an invite: what user-registering allows, and
 * what user-registered and user-password-reset do with the invite.
 */
import { claim_invite, claim_username, release_username, was_used } from "./invite_claims";
import { describe_void, record_void } from "./invite_accounts";
import type { InviteProblem } from "./invites";
import { bound_username, normalise_username, read_account_invite, reset_target } from "./invite_records";
import { record_account_created } from "./accounts";
import { current_attempt } from "./registration_attempts";
import { usermanager } from "./prosody_require";
import { check_reservation } from "./pending_invites";
import { count_registration } from "./metrics";
import { invite_used } from "./used_invites";
import { apply_invite_roles } from "./roles";
import { add_to_invite_groups } from "./groups";
import { subscribe_both } from "./roster_subscriptions";
import { redact } from "./tokens";
import type { RegistrationError, UserRegisteredEvent, UserRegisteringEvent } from "./types/events";
import type { InviteRecord, ValidInvite } from "./types/mod_invites";
import type { StanzaErrorCondition, StanzaErrorType } from "./types/stanza";

/**
 * Refuses a registration. mod_register_ibr answers with `error`; web
 * registration modules show `reason`. (mod_register_ibr logs the reason of
 * a refusal; so do not we.)
 */
export function refuse_with(event: UserRegisteringEvent, error: Readonly<RegistrationError> & { readonly text: string }): void {
	count_registration("refused", error.condition);
	event.allowed = false;
	event.error = error;
	event.reason = error.text;
}

function refuse(event: UserRegisteringEvent, type: StanzaErrorType, condition: StanzaErrorCondition, text: string): void {
	refuse_with(event, { type, condition, text });
}

/**
 * The refusal of a registration without invite in invite-only mode. Every
 * refused registration gets it, so it is shared rather than made each time
 * (mod_register_ibr only reads it).
 */
export const UNINVITED: Readonly<RegistrationError> & { readonly text: string } = {
	type: "cancel",
	condition: "forbidden",
	text: "Registration on this server is through invitation only",
};

function refuse_invite(event: UserRegisteringEvent, problem: InviteProblem): void {
	if (problem === "internal-error") {
		refuse(event, "wait", "internal-server-error", "The invite could not be checked, please try again later");
	} else {
		refuse(event, "cancel", "forbidden", "The invite is invalid or has already been used");
	}
}

/** The invite presented for this registration: with <preauth/> on the session, or by a web registration. */
export function presented_invite(event: { readonly validated_invite?: ValidInvite; readonly session?: { validated_invite?: ValidInvite } }): ValidInvite | undefined {
	return event.validated_invite ?? event.session?.validated_invite;
}

/**
 * Refuses a registration of a name reserved for an invitee; true when it
 * did. XEP-0445 §5; `conflict` is what clients show as "username already
 * in use".
 */
function refuse_if_reserved(event: UserRegisteringEvent): boolean {
	const reservation = check_reservation(event.username);
	if (reservation === "reserved") {
		refuse(event, "cancel", "conflict", `The username '${event.username}' is reserved for an invited user`);
		return true;
	}
	if (reservation === "unknown") {
		refuse(event, "wait", "internal-server-error", "The username could not be checked, please try again later");
		return true;
	}
	return false;
}

/**
 * Claims the username for this registration; refuses it (true) while
 * another registration of the same name is in progress. Closes a gap of
 * mod_register_ibr, which checks that a name is free and then creates the
 * account: with storage that lets other sessions run in between, a second
 * registration of the name would overwrite the first one's password.
 */
function refuse_if_name_claimed(event: UserRegisteringEvent): boolean {
	if (claim_username(event.username, event.session, event)) {
		return false;
	}
	refuse(event, "cancel", "conflict", `The username '${event.username}' is being registered by someone else`);
	return true;
}

/**
 * Refuses a registration with an invite whose creator's account, or whose
 * reset target, no longer stands (invite_accounts.ts); true when it did.
 */
function refuse_if_void(event: UserRegisteringEvent, record: InviteRecord): boolean {
	const problem = record_void(record, event.host, true);
	if (problem === undefined) {
		return false;
	}
	if (problem.reason === "unknown") {
		refuse(event, "wait", "internal-server-error", "The invite could not be checked, please try again later");
	} else if (problem.role === "target" && problem.reason === "gone") {
		// A reset invite never creates an account.
		refuse(event, "cancel", "item-not-found", `There is no account '${problem.account}' to reset`);
	} else {
		module.log("info", "Refusing the registration of %s with %s", event.username, describe_void(problem));
		refuse(event, "cancel", "forbidden", "This invite is no longer valid");
	}
	return true;
}

/**
 * user-registering, when the registration is allowed so far: with an
 * invite, the invite must still exist (not used or deleted: its expiry was
 * checked at <preauth/>, or by the web registration that passed it), must
 * be for this username (or reset this account), the accounts it names
 * (its creator, the account it resets) must still stand, and it must not
 * be in use by another registration; an invite made for no username may
 * not take a name reserved for an invitee.
 * Without invite (open registration), the name must not be reserved.
 */
export function check_registration(event: UserRegisteringEvent): void {
	if (event.allowed === false) {
		return; // already refused by another module
	}
	const username = event.username;
	const invite = presented_invite(event);
	if (invite === undefined) {
		if (!refuse_if_reserved(event)) {
			refuse_if_name_claimed(event);
		}
		return;
	}
	const token = invite.token;
	if (was_used(token)) {
		refuse_invite(event, "token-invalid");
		return;
	}

	// The invite may have been used or deleted since <preauth/>.
	const [record, problem] = read_account_invite(token);
	if (record === undefined) {
		refuse_invite(event, problem);
		return;
	}

	const is_reset = reset_target(record) !== undefined;
	const for_username = bound_username(record, event.host);
	if (for_username !== undefined && for_username !== username) {
		// (No "password" in the text: some clients show any not-acceptable mentioning it as "password too weak".)
		const what = is_reset ? "is only for the account" : "is only valid for the username";
		refuse(event, "modify", "not-acceptable", `This invite ${what} '${for_username}'`);
		return;
	}
	if (refuse_if_void(event, record)) {
		return;
	}

	if (is_reset) {
		// The account exists: the check above found it standing.
		event.allow_reset = username;
	} else {
		const [checked, exists] = pcall(usermanager.user_exists, username, event.host);
		if (!checked) {
			module.log("error", "Could not check whether account %s exists: %s", username, exists);
			refuse(event, "wait", "internal-server-error", "The account could not be checked, please try again later");
			return;
		}
		if (exists) {
			// mod_register_ibr would refuse too; refusing here keeps the invite unclaimed.
			refuse(event, "cancel", "conflict", "The requested username already exists.");
			return;
		}
		if (for_username === undefined && refuse_if_reserved(event)) {
			return; // an invite made for this name may register it, whichever other invites reserve it too
		}
	}

	// Nothing may yield from here to the claims: they are what makes the checks above hold.
	if (!is_reset && refuse_if_name_claimed(event)) {
		return;
	}
	if (!record.reusable && !claim_invite(token, event.session, event)) {
		if (!is_reset) {
			release_username(username);
		}
		refuse(event, "wait", "resource-constraint", "This invite is being used by another registration, please try again later");
		return;
	}
	// Kept with the attempt: user-registered must find the invite even if the session closes meanwhile.
	const attempt = current_attempt();
	if (attempt !== undefined) {
		attempt.invite = invite;
		attempt.username = username;
	}
	module.log("debug", "Allowing registration of %s with invite %s", username, redact(token));
}

/** The invite a registration used: presented with the event or its session, or kept with its attempt. */
function used_invite(event: UserRegisteringEvent | UserRegisteredEvent): ValidInvite | undefined {
	const invite = presented_invite(event);
	if (invite !== undefined) {
		return invite;
	}
	const attempt = current_attempt();
	return attempt !== undefined && attempt.username === event.username ? attempt.invite : undefined;
}

/**
 * user-registered, for every new account: its name's claim ends, its
 * creation time is noted where nothing else keeps one (accounts.ts), and
 * an invite it was registered with is used (complete_registration).
 */
export function account_registered(event: UserRegisteredEvent): void {
	count_registration("registered", presented_invite(event) !== undefined ? "invite" : "open");
	release_username(event.username);
	if (typeof event.username === "string") {
		record_account_created(event.username, module.host, event.source);
	}
	complete_registration(event);
}

/**
 * user-registered: use the invite, then apply what it carries: mutual
 * subscription with the inviter, roles and groups. Each step is protected
 * and logged on its own, so one failure does not cancel the others.
 */
function complete_registration(event: UserRegisteredEvent): void {
	const invite = used_invite(event);
	if (invite === undefined) {
		return;
	}
	const username = event.username;
	const host = module.host;
	invite_used(invite);

	const inviter = invite.inviter;
	if (inviter !== undefined && normalise_username(inviter, host) === username) {
		// The inviter's account was gone and the invitee took its name: a
		// subscription to oneself would loop presence back to its sender.
		module.log("info", "Not subscribing %s to themselves (the inviter's account no longer existed)", username);
	} else if (inviter !== undefined) {
		const [ok, err] = pcall(subscribe_both, host, inviter, username);
		if (!ok) {
			module.log("error", "Could not subscribe %s and their inviter %s to each other: %s", username, inviter, err);
		}
	}

	const data = invite.additional_data;
	if (data?.roles !== undefined) {
		const [ok, err] = pcall(apply_invite_roles, username, host, data.roles);
		if (!ok) {
			module.log("error", "Could not give %s the roles of their invite: %s", username, err);
		}
	}
	if (data?.groups !== undefined) {
		const [ok, err] = pcall(add_to_invite_groups, username, data.groups);
		if (!ok) {
			module.log("error", "Could not add %s to the groups of their invite: %s", username, err);
		}
	}
}

/** user-password-reset: an invite reset the password of an existing account; use it. */
export function complete_password_reset(event: UserRegisteringEvent): void {
	const invite = used_invite(event);
	if (invite === undefined) {
		return;
	}
	invite_used(invite);
}
