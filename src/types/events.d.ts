/**
 * Events a module can hook, by name, with the payload Prosody passes.
 * `module:hook(name, handler)` types `handler`'s argument from this map, so
 * a handler for the wrong event does not compile.
 *
 * Handlers return true to stop the event (no lower-priority handler runs);
 * for stanza events that means "handled".
 */
import type { InviteRecord, ValidInvite } from "./mod_invites";
import type { Session, HostSession } from "./session";
import type { Stanza, StanzaErrorCondition, StanzaErrorType } from "./stanza";

/** A stanza on its way through the router (stanza/…, presence/…, iq/…). */
export interface StanzaEvent {
	readonly origin: Session | HostSession;
	readonly stanza: Stanza;
	readonly to_self?: boolean;
}

/** Stanzas from a connection that has no bound resource yet (c2s_unauthed): `stanza/…` events. */
export interface SessionStanzaEvent extends StanzaEvent {
	readonly origin: Session;
}

/** mod_c2s, building `<stream:features/>`. */
export interface StreamFeaturesEvent {
	readonly origin: Session;
	readonly features: Stanza;
}

/** How a handler refuses a registration (util.error shape, read by mod_register_ibr). */
export interface RegistrationError {
	type: StanzaErrorType;
	condition: StanzaErrorCondition;
	text?: string;
}

/**
 * Fired by mod_register_ibr (and web registration modules) before an account
 * is created. Set `allowed = false` and `error` (or the legacy `reason`) to
 * refuse. The same table is passed to user-password-reset.
 */
export interface UserRegisteringEvent {
	readonly username: string;
	readonly password?: string;
	readonly host: string;
	readonly ip?: string;
	/** The c2s session registering in-band; absent for web registration. */
	readonly session?: Session;
	readonly additional?: LuaTable<string, string>;
	/** Web registration passes the invite here instead of on a session. */
	readonly validated_invite?: ValidInvite;
	allowed: boolean;
	error?: RegistrationError;
	/** Legacy refusal text (pre util.error). */
	reason?: string;
	/** Username whose password may be reset instead of creating an account. */
	allow_reset?: string;
	/** 13: the role the new account is created with. */
	role?: string;
}

/** Fired once an account exists. */
export interface UserRegisteredEvent {
	readonly username: string;
	readonly host: string;
	readonly source?: string;
	readonly session?: Session;
	readonly validated_invite?: ValidInvite;
}

/** core.usermanager's account events (user-deleted, 13's user-disabled and user-enabled). */
export interface AccountEvent {
	readonly username: string;
	readonly host: string;
}

export interface ProsodyEvents {
	"stream-features": StreamFeaturesEvent;
	"stanza/iq/urn:xmpp:pars:0:preauth": SessionStanzaEvent;
	"stanza/iq/jabber:iq:register:query": SessionStanzaEvent;
	"user-registering": UserRegisteringEvent;
	"user-registered": UserRegisteredEvent;
	/** mod_register_ibr: an invite reset the password of an existing account. */
	"user-password-reset": UserRegisteringEvent;
	/** Fired on prosody.events (hook_global), for every host: check `host`. */
	"user-deleted": AccountEvent;
	/** 13 only, on prosody.events (hook_global). */
	"user-disabled": AccountEvent;
	"presence/bare": StanzaEvent;
	"presence/full": StanzaEvent;
	"presence/host": StanzaEvent;
	"pre-presence/bare": StanzaEvent;
	"message/bare": StanzaEvent;
	"iq/bare": StanzaEvent;
	"iq/host": StanzaEvent;
	"resource-bind": { readonly session: Session };
	"invite-created": InviteRecord;
}

/** `stanza/iq/<xmlns>:<name>` for any payload not listed above. */
export type StanzaIqEventName = `stanza/iq/${string}:${string}`;
