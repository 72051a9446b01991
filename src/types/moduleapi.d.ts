/**
 * The module API: the `module` object in every module's environment
 * (/usr/lib/prosody/core/moduleapi.lua). Its methods are called with `:`.
 */
import type { ProsodyEvents, StanzaIqEventName, SessionStanzaEvent } from "./events";
import type { ModInvites } from "./mod_invites";
import type { Session, HostSession } from "./session";
import type { Stanza } from "./stanza";
import type { KeyvalStore, MapStore } from "./storage";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Return true to stop the event; nothing to let other handlers run. */
export type EventHandler<E> = (this: void, event: E) => boolean | void;

/** What `module:depends(name)` returns for modules whose API is typed here. */
export interface DependableModules {
	invites: ModInvites;
}

/** A module's environment (its globals), as returned by `depends` for untyped modules. */
export type ModuleEnvironment = LuaTable<string, unknown>;

export interface ModuleApi {
	/** The module's name without "mod_", e.g. "invites_register". */
	readonly name: string;
	/** The host the module is loaded on ("*" for global modules). */
	readonly host: string;
	readonly global?: boolean;

	/** Hooks a host event; the handler's argument is typed from the event name. */
	hook<N extends keyof ProsodyEvents>(event: N, handler: EventHandler<ProsodyEvents[N]>, priority?: number): void;
	/** Hooks an IQ payload from sessions without a bound resource. */
	hook(event: StanzaIqEventName, handler: EventHandler<SessionStanzaEvent>, priority?: number): void;
	unhook<N extends keyof ProsodyEvents>(event: N, handler: EventHandler<ProsodyEvents[N]>): void;
	/** Fires a host event; returns what the handler that stopped it returned. */
	fire_event<N extends keyof ProsodyEvents>(event: N, data: ProsodyEvents[N]): unknown;

	/** The raw config value (host section first, then global). */
	get_option(name: string, default_value?: unknown): unknown;
	/**
	 * true for true/"true"/1, false for false/"false"/0; nil when unset
	 * without default, or when the value is not understood (Prosody logs an
	 * error then, and ignores the default).
	 */
	get_option_boolean(name: string, default_value?: boolean): boolean | undefined;
	get_option_string(name: string, default_value?: string): string | undefined;
	/** nil (and an error in the log) when the value is not a number. */
	get_option_number(name: string, default_value?: number): number | undefined;
	get_option_array(name: string, default_value?: unknown[]): unknown[] | undefined;
	get_option_set(name: string, default_value?: unknown[]): { contains(this: unknown, item: string): boolean } | undefined;
	/** 13 only: a duration in seconds ("1 week", 3600). */
	get_option_period?(name: string, default_value?: number | string): number | undefined;

	/**
	 * Loads another module on this host (if needed) and returns its
	 * environment; raises a Lua error when it cannot be loaded.
	 */
	depends<N extends keyof DependableModules>(name: N): DependableModules[N];
	depends(name: string): ModuleEnvironment;

	/** Logs through util.logger: `module:log("debug", "Got %s", x)`. */
	log(level: LogLevel, message: string, ...args: unknown[]): void;

	open_store<T = unknown>(name?: string, store_type?: "keyval"): KeyvalStore<T>;
	open_store<T = unknown>(name: string, store_type: "map"): MapStore<T>;

	/** Routes a stanza as if `origin` (default: this host) had sent it. */
	send(stanza: Stanza, origin?: Session | HostSession): void;

	/** A table shared by all modules that ask for the same path. */
	shared(path: string): LuaTable;
	add_feature(xmlns: string): void;
	add_item(key: string, value: unknown): void;
	get_host_type(): "local" | "component" | "global";
}
