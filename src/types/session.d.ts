/**
 * Sessions: the tables Prosody keeps for each connection
 * (/usr/lib/prosody/core/sessionmanager.lua, modules/mod_c2s.lua).
 */
import type { Roster } from "./rostermanager";
import type { Stanza } from "./stanza";
import type { ValidInvite } from "./mod_invites";
import type { LogLevel } from "./moduleapi";
import type { EventsObject } from "./util";

/** c2s_unauthed → (SASL) → c2s_unbound → (bind) → c2s. */
export type SessionType =
	| "c2s_unauthed"
	| "c2s_unbound"
	| "c2s"
	| "c2s_destroyed"
	| "s2sin_unauthed"
	| "s2sin"
	| "s2sout_unauthed"
	| "s2sout"
	| "component"
	| "local";

export interface Session {
	type: SessionType;
	/** For logs: "c2s55e6d0b0" and the like. */
	id?: string;
	host?: string;
	/** True once the stream is encrypted (TLS). */
	secure?: boolean;
	ip?: string;
	username?: string;
	resource?: string;
	full_jid?: string;
	/** Set (through the metatable) once the session has been destroyed and retired. */
	readonly destroyed?: boolean;
	/** The client's current available presence, when it sent one. */
	presence?: Stanza;
	/** True when the client requested its roster (receives roster pushes). */
	interested?: boolean;
	roster?: Roster;
	/** The invite this session presented with `<preauth/>` (read by other invite modules too). */
	validated_invite?: ValidInvite;
	/** This module: invite tokens this session presented that were not valid. */
	invites_register_failed_tokens?: number;
	/** This module: the budget of invalid XEP-0379 tokens of a server-to-server connection (token_limits.ts). */
	invites_register_token_budget?: object;
	send(this: void, data: Stanza | string): boolean | void;
	log(this: void, level: LogLevel, message: string, ...args: unknown[]): void;
	close(reason?: string | { condition: string; text?: string }): void;
}

/** hosts[host]: a virtual host. */
export interface HostSession {
	readonly type: "local" | "component";
	readonly host: string;
	/** Local users with at least one session, by username. */
	readonly sessions: LuaTable<string, BareSession>;
	/** The host's events (what `module:hook` hooks). */
	readonly events: EventsObject;
	/** The modules loaded on the host, by name (modulemanager: their environments). */
	readonly modules?: LuaTable<string, unknown>;
	send(this: void, stanza: Stanza): void;
}

/** All sessions of one local user (prosody.bare_sessions[user@host]). */
export interface BareSession {
	readonly sessions: LuaTable<string, Session>;
	roster?: Roster;
}
