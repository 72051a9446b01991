/**
 * The module API: the `module` object in every module's environment
 * (core/moduleapi.lua of 0.12 in /usr/lib/prosody, of 13 in
 * .cache/prosody-13/usr/lib/prosody). Its methods are called with `:`.
 *
 * Every `function api:name(` of both versions is declared here;
 * spec/types/api_coverage.test.ts checks that against the Lua source.
 * Methods only one version has are optional and say which version.
 * Quoted comments ("…") are Prosody's own, from the Lua source.
 */
import type { ProsodyEvents, StanzaIqEventName, SessionStanzaEvent } from "./events";
import type { ModInvites } from "./mod_invites";
import type { Session, HostSession } from "./session";
import type { Stanza } from "./stanza";
import type { LegacyMeasureConfig, LegacyMeasures, MetricFamily, MetricTypes } from "./statsmanager";
import type { KeyvalStore, MapStore } from "./storage";
import type { EventsObject, EventsWrapper, IqResultEvent, ProsodyPromise, ProsodySet } from "./util";

export type LogLevel = "debug" | "info" | "warn" | "error";

/** Return true to stop the event; nothing to let other handlers run. */
export type EventHandler<E> = (this: void, event: E) => boolean | void;

/** What `module:depends(name)` returns for modules whose API is typed here. */
export interface DependableModules {
	invites: ModInvites;
}

/** A module's environment (its globals), as returned by `depends` for untyped modules. */
export type ModuleEnvironment = LuaTable<string, unknown>;

/** `module:hook_tag` handlers get the event's origin and stanza first. */
export type TagHandler = (this: void, origin: Session, stanza: Stanza, event: SessionStanzaEvent) => boolean | void;

/** `item-added/<key>` and `item-removed/<key>` events (`module:handle_items`). */
export interface ItemEvent<T> {
	/** The module that added the item; 0.12 leaves it out for items that existed before `handle_items`. */
	readonly source?: ModuleApi;
	readonly item: T;
}

/** What `module:add_timer` returns; its methods are called with `:`. */
export interface ModuleTimer {
	/** util.timer's id of the task. */
	readonly id: unknown;
	stop(): void;
	/** The same as `stop`. */
	disarm(): void;
	/** Runs the callback `delay` seconds from now instead. */
	reschedule(delay: number): void;
}

/**
 * A periodic task for mod_cron (`module:cron`). mod_cron calls
 * `task:run(started_at)`, i.e. `run(task, started_at)`.
 */
export interface CronTask {
	/** Defaults to `when`; with the module name it makes the task's id (its last run is stored by id). */
	name?: string;
	when: "hourly" | "daily" | "weekly";
	run: (this: void, task: CronTask, started_at: number) => void;
	/** Set by mod_cron: "<module>/<name>". */
	readonly id?: string;
	/** Set by mod_cron: when the task last ran. */
	readonly last?: number;
}

/** What `module:hourly`/`daily`/`weekly` run. */
export type CronFunction = (this: void, task: CronTask, started_at: number) => void;

/** `module:set_status` types, lowest to highest priority. */
export type ModuleStatusType = "core" | "info" | "warn" | "error";

/**
 * Who is asking, for `module:may` (13): a JID, `{ actor_jid }`, or an
 * event with the session (`origin` or `session`) and, for remote
 * entities, the stanza.
 */
export type PermissionContext =
	| string
	| {
			readonly actor_jid?: string;
			readonly origin?: Session | HostSession;
			readonly session?: Session;
			readonly stanza?: Stanza;
	  };

export interface ModuleApi {
	/** The module's name without "mod_", e.g. "invites_register". */
	readonly name: string;
	/** The host the module is loaded on ("*" for global modules). */
	readonly host: string;
	readonly global?: boolean;

	/** "Returns the name of the current module" (`module.name`). */
	get_name(): string;
	/** "Returns the host that the current module is serving" (`module.host`). */
	get_host(): string;
	/** "global" for "*", else the host's type ("local" unless it is a component). */
	get_host_type(): "local" | "component" | "global";
	/** Makes this module global: host "*", a logger named "mod_<name>". */
	set_global(): void;

	/** Advertises a service discovery feature (`add_item("feature", xmlns)`). */
	add_feature(xmlns: string): void;
	/** Advertises a service discovery identity (`add_item("identity", …)`). */
	add_identity(category: string, identity_type: string, name?: string): void;
	/** Adds a XEP-0128 extension (a data form) to service discovery (`add_item("extension", data)`). */
	add_extension(data: Stanza): void;

	/** Fires a host event (a global event for global modules); returns what the handler that stopped it returned. */
	fire_event<N extends keyof ProsodyEvents>(event: N, data: ProsodyEvents[N]): unknown;

	/**
	 * Hooks `event` on any util.events object; the module unhooks it when
	 * unloaded. The event payload is whatever that object fires (annotate `E`).
	 */
	hook_object_event<E = unknown>(object: EventsObject, event: string, handler: EventHandler<E>, priority?: number): void;
	unhook_object_event<E = unknown>(object: EventsObject, event: string, handler: EventHandler<E>): void;
	/** Hooks a host event (global events for global modules); the handler's argument is typed from the event name. */
	hook<N extends keyof ProsodyEvents>(event: N, handler: EventHandler<ProsodyEvents[N]>, priority?: number): void;
	/** Hooks an IQ payload from sessions without a bound resource. */
	hook(event: StanzaIqEventName, handler: EventHandler<SessionStanzaEvent>, priority?: number): void;
	/** Hooks an event of `prosody.events` (server-started, host-activated, …) from any module. */
	hook_global<E = unknown>(event: string, handler: EventHandler<E>, priority?: number): void;
	/**
	 * Hooks `stanza/<xmlns>:<name>` (stream-level elements, e.g. stream
	 * features) with a handler taking `(origin, stanza, event)`.
	 */
	hook_tag(xmlns: string | undefined, name: string, handler: TagHandler, priority?: number): void;
	/** "If only 2 options then they specified no xmlns" (and no priority can be given). */
	hook_tag(name: string, handler: TagHandler): void;
	/**
	 * The same function as `hook_tag`.
	 * @deprecated "COMPAT w/pre-0.9": use hook_tag.
	 */
	hook_stanza(xmlns: string | undefined, name: string, handler: TagHandler, priority?: number): void;
	/** @deprecated "COMPAT w/pre-0.9": use hook_tag. */
	hook_stanza(name: string, handler: TagHandler): void;
	unhook<N extends keyof ProsodyEvents>(event: N, handler: EventHandler<ProsodyEvents[N]>): void;
	/**
	 * Adds a wrapper around the handlers of `event` (`false`: of every
	 * event) on a util.events object that has wrappers.
	 */
	wrap_object_event<E = unknown>(events_object: EventsObject, event: string | false, handler: EventsWrapper<E>): void;
	/** `wrap_object_event` on the host's events (global events for global modules). */
	wrap_event<E = unknown>(event: string | false, handler: EventsWrapper<E>): void;
	/**
	 * Meant as `wrap_event` for `prosody.events`, but in 0.12 and 13 it
	 * hooks `handler` as an ordinary handler of `prosody.events` (it calls
	 * hook_object_event, not wrap_object_event), so it is called with the
	 * event data only: typed as it behaves.
	 */
	wrap_global<E = unknown>(event: string, handler: EventHandler<E>): void;

	/**
	 * Loads `<lib>.lib.lua` from the module's folder in the module's
	 * environment and returns what it returns; raises an error when it cannot.
	 */
	require<T = unknown>(lib: string): T;

	/**
	 * Loads another module on this host (if needed) and returns its
	 * environment; raises a Lua error when it cannot be loaded or is in
	 * modules_disabled. This module is reloaded/unloaded with it.
	 */
	depends<N extends keyof DependableModules>(name: N): DependableModules[N];
	depends(name: string): ModuleEnvironment;
	/**
	 * 13: a soft dependency returns nil, "disabled" instead of raising
	 * when the module is in modules_disabled. 0.12 ignores `soft` (and
	 * raises), so check the version before relying on it.
	 */
	depends<N extends keyof DependableModules>(name: N, soft: true): LuaMultiReturn<[DependableModules[N]] | [undefined, "disabled"]>;
	depends(name: string, soft: true): LuaMultiReturn<[ModuleEnvironment] | [undefined, "disabled"]>;

	/**
	 * "Returns a shared table at the specified virtual path. Intentionally
	 * does not allow the table to be _set_, it is auto-created if it does
	 * not exist." A path without a leading "/" is relative to
	 * "/<host>/<module>/"; a path ending in "-cache" gives a weak table.
	 */
	shared<T extends object = LuaTable>(path: string): T;

	/** The raw config value (host section first, then global); `default_value` when unset. */
	get_option(name: string, default_value?: unknown): unknown;
	/** Like get_option, but of a list only the first item (an error is logged when it has more). */
	get_option_scalar(name: string, default_value?: unknown): unknown;
	/** The scalar value through tostring; nil when unset without default. */
	get_option_string(name: string, default_value?: string): string | undefined;
	/**
	 * nil (and an error in the log) when the value is not a number.
	 * 13: a value outside `min`..`max` is logged and clamped ("skip
	 * interval checks for default or nil"); 0.12 ignores `min` and `max`.
	 */
	get_option_number(name: string, default_value?: number, min?: number, max?: number): number | undefined;
	/**
	 * 13 only: get_option_number limited to integers (a float is logged and
	 * floored); the default is returned unaltered ("pass default trough
	 * unaltered, violates ranges sometimes").
	 */
	get_option_integer?(name: string, default_value?: number, min?: number, max?: number): number | undefined;
	/**
	 * 13 only: a duration in seconds: a number ("assume seconds") or a
	 * period such as "1 week" or "3 hours"; "never" or false (and negative
	 * periods: "Treating negative period as infinity") give math.huge. nil
	 * (and an error in the log) when not understood; `min`/`max` (seconds
	 * or periods) clamp.
	 */
	get_option_period?(name: string, default_value?: number | string, min?: number | string, max?: number | string): number | undefined;
	/**
	 * true for true/"true"/1, false for false/"false"/0; nil when unset
	 * without default, or when the value is not understood (Prosody logs an
	 * error then, and ignores the default).
	 */
	get_option_boolean(name: string, default_value?: boolean): boolean | undefined;
	/** A copy of the list (util.array); a single value becomes a one-item list ("Assume any non-list is a single-item list"). */
	get_option_array(name: string, default_value?: unknown[]): unknown[] | undefined;
	/** The list as a util.set. */
	get_option_set(name: string, default_value?: readonly string[]): ProsodySet | undefined;
	/** The host's set and the global section's set together. */
	get_option_inherited_set(name: string, default_value?: readonly string[]): ProsodySet | undefined;
	/**
	 * A path: relative values are resolved against `parent`, a folder or a
	 * key of `prosody.paths` ("config", "data", …), by default the module's folder.
	 */
	get_option_path(name: string, default_value?: string, parent?: string): string | undefined;
	/**
	 * 13 only: the scalar value, which should be `default_value` or one of
	 * `allowed`. A value outside them is logged as an error but still
	 * returned, hence unknown: narrow it.
	 */
	get_option_enum?(name: string, default_value: string | number | boolean, ...allowed: (string | number | boolean)[]): unknown;

	/** The same module API on behalf of another host ("*" by default: the global section). */
	context(host?: string): ModuleApi;

	/** Adds an item to this module's `key` list (fires `item-added/<key>`). */
	add_item(key: string, value: unknown): void;
	/** Removes it (fires `item-removed/<key>`); returns it, or nil when it was not there. */
	remove_item<T>(key: string, value: T): T | undefined;
	/** The `key` items of all modules on this host. */
	get_host_items<T = unknown>(key: string): T[];
	/**
	 * Calls `added_cb`/`removed_cb` as `item_type` items come and go on this
	 * host, and (unless `existing` is false) `added_cb` for every existing one now.
	 */
	handle_items<T = unknown>(
		item_type: string,
		added_cb: EventHandler<ItemEvent<T>>,
		removed_cb: EventHandler<ItemEvent<T>>,
		existing?: boolean,
	): void;
	/**
	 * Registers a provider (auth, storage, …) as a `<name>-provider` item:
	 * `item`, or a copy of the module's environment. Sets `item.name`
	 * (the module name without "<name>_") unless present.
	 */
	provides(name: string, item?: object): void;

	/** Routes a stanza as if `origin` (default: this host) had sent it. */
	send(stanza: Stanza, origin?: Session | HostSession): void;
	/**
	 * Sends an IQ and returns a promise of the result event; it rejects
	 * with a util.error for an error reply, after `timeout` seconds
	 * (default 120) or when the id is in use.
	 */
	send_iq(stanza: Stanza, origin?: Session | HostSession, timeout?: number): ProsodyPromise<IqResultEvent>;
	/** Sends a copy of `stanza` to each JID (the values of `jids`). */
	broadcast(jids: readonly string[] | LuaTable<AnyNotNil, string>, stanza: Stanza): void;
	/** With `iter` (e.g. util.iterators.keys): `for jid in iter(jids)`. */
	broadcast<C>(jids: C, stanza: Stanza, iter: (this: void, jids: C) => unknown): void;

	/**
	 * Calls `callback(now, ...args)` in `delay` seconds, unless the module
	 * has been unloaded; if it returns a number, again that many seconds later.
	 */
	add_timer<A extends unknown[]>(delay: number, callback: (this: void, now: number, ...args: A) => number | void, ...args: A): ModuleTimer;
	/** Adds a task for mod_cron (loading it). */
	cron(task_spec: CronTask): void;
	/** An hourly mod_cron task; without name, the task is named "hourly". */
	hourly(name: string | undefined, fun: CronFunction): void;
	hourly(fun: CronFunction): void;
	/** A daily mod_cron task; without name, the task is named "daily". */
	daily(name: string | undefined, fun: CronFunction): void;
	daily(fun: CronFunction): void;
	/** A weekly mod_cron task; without name, the task is named "weekly". */
	weekly(name: string | undefined, fun: CronFunction): void;
	weekly(fun: CronFunction): void;

	/** The module's folder (nil when unknown). */
	get_directory(): string | undefined;
	/** io.open of a path relative to the module's folder. */
	load_resource(path: string, mode?: string): LuaMultiReturn<[LuaFile] | [undefined, string, number]>;

	/**
	 * Opens this host's store `name` (default: the module name). 13 returns
	 * nil, "global-storage-not-supported" from a global module (host "*");
	 * this module is host-bound, so that case is not in the type.
	 */
	open_store<T = unknown>(name?: string, store_type?: "keyval"): KeyvalStore<T>;
	open_store<T = unknown>(name: string, store_type: "map"): MapStore<T>;

	/**
	 * A statistic in the pre-OpenMetrics style, named "mod_<module>/<name>"
	 * (with a host label in host modules): a function to call with each value.
	 */
	measure<T extends keyof LegacyMeasures>(name: string, stat_type: T, conf?: LegacyMeasureConfig | number): LegacyMeasures[T];
	/**
	 * An OpenMetrics family "prosody_mod_<module>/<name>". In a host module
	 * "host" is prepended to the label keys and preset ("make sure to scope
	 * the returned metric family to the current host"). 0.12 needs
	 * `label_keys` in host modules (it appends nil otherwise): pass [] for none.
	 */
	metric<T extends keyof MetricTypes>(
		type_: T,
		name: string,
		unit: string,
		description: string,
		label_keys: readonly string[],
		conf?: { buckets?: readonly number[] },
	): MetricFamily<MetricTypes[T]>;

	/**
	 * Sets the module's status (shown by prosodyctl and the admin shell);
	 * fires module-status/updated. "By default an 'error' status can only
	 * be overwritten by another 'error' status" (`override` true forces it;
	 * false keeps any higher-priority status). An unknown type is logged and
	 * taken as "info".
	 */
	set_status(status_type: ModuleStatusType, status_message: string, override?: boolean): void;
	/** Logs the message and sets it (formatted) as the module's status. */
	log_status(level: "info" | "warn" | "error", msg: string, ...args: unknown[]): void;
	/** Status type, message and time (modulemanager sets "core", "Loaded" when loading). */
	get_status(): LuaMultiReturn<[ModuleStatusType | undefined, string | undefined, number | undefined]>;

	/** 13 only: grants `permission` (":x" means "<module>:x") to a role by default. */
	default_permission?(role_name: string, permission: string): void;
	/** 13 only: `default_permission` for each permission. */
	default_permissions?(role_name: string, permissions: readonly string[]): void;
	/** 13 only: `may` without logging denials. */
	could?(action: string, context: PermissionContext): boolean | undefined;
	/**
	 * 13 only: whether the actor may perform `action` (":x" means
	 * "<module>:x"), by its role; denials are logged unless `peek`.
	 * Raises an error when the context names no actor.
	 */
	may?(action: string, context: PermissionContext, peek?: boolean): boolean | undefined;
	/** 13 only: "Execute a function, once, but only after startup is complete". */
	on_ready?(f: (this: void) => void): ProsodyPromise<unknown>;
	/**
	 * 13 only: "COMPAT w/post 0.12 trunk": on_ready with a warning.
	 * @deprecated "switch to module:on_ready() or (better) expose function module.ready()".
	 */
	once?(f: (this: void) => void): ProsodyPromise<unknown>;

	/** Logs through util.logger: `module:log("debug", "Got %s", x)` (set by modulemanager, not moduleapi). */
	log(level: LogLevel, message: string, ...args: unknown[]): void;
}
