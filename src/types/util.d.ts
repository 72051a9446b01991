/**
 * Small Prosody libraries the module API hands out: util.set
 * (`module:get_option_set`), util.promise and util.error
 * (`module:send_iq`, `module:on_ready`), util.events (`module:hook_object_event`).
 * The same in 0.12 and 13 (/usr/lib/prosody/util/{set,promise,error,events}.lua).
 */
import type { Stanza } from "./stanza";

/**
 * util.set: a set of (usually string) items. Its methods are called with `:`.
 * The set itself is also a Lua iterator over its items (`for item in set do`).
 */
export interface ProsodySet<T extends AnyNotNil = string> {
	add(item: T): void;
	/** true when present, nil when not (`items[item]`). */
	contains(item: T): true | undefined;
	/** Whether every item of `other_set` is in this set. */
	contains_set(other_set: ProsodySet<T>): boolean;
	/** `for (const item of set.items())` compiles to `for item in set:items() do` (Lua: `return next, items`). */
	items(): LuaIterable<T, LuaTable<T, true>>;
	remove(item: T): void;
	/** Adds every item of a list (nil is ignored). */
	add_list(item_list: readonly T[] | undefined): void;
	/** Adds every item of another set. */
	include(otherset: ProsodySet<T>): void;
	/** Removes every item of another set. */
	exclude(otherset: ProsodySet<T>): void;
	/** true when the set has no item. */
	empty(): boolean;
}

/**
 * util.error: what util.promise rejections (e.g. `module:send_iq`) and many
 * newer APIs carry. `tostring(e)` is `error<type:condition:text>`.
 */
export interface ProsodyError {
	/** A StanzaErrorType for stanza errors; "cancel" unless the template said otherwise. */
	readonly type: string;
	/** A StanzaErrorCondition for stanza errors; "undefined-condition" unless the template said otherwise. */
	readonly condition: string;
	readonly text?: string;
	readonly code?: number;
	readonly extra?: unknown;
	readonly context: LuaTable<string, unknown>;
	readonly instance_id: string;
	readonly source?: string;
}

/**
 * util.promise. `next` (not `then`) chains; its methods are called with `:`.
 * Handlers run later (never synchronously inside `next`).
 */
export interface ProsodyPromise<T> {
	/** `promise:next(on_fulfilled, on_rejected)`: a new promise of what the handler returns. */
	next<R = T>(
		on_fulfilled?: ((this: void, value: T) => R | ProsodyPromise<R>) | undefined,
		on_rejected?: (this: void, reason: unknown) => R | ProsodyPromise<R>,
	): ProsodyPromise<R>;
	/** `promise:catch(f)` is `promise:next(nil, f)`. */
	catch<R = T>(on_rejected: (this: void, reason: unknown) => R | ProsodyPromise<R>): ProsodyPromise<T | R>;
	/** Runs `on_finally` (without arguments) either way; keeps the value or the rejection. */
	finally(on_finally: (this: void) => void): ProsodyPromise<T>;
}

/** What `module:send_iq` resolves with: the result event (or `{ stanza = reply }` for a reply sent to the wrapped origin). */
export interface IqResultEvent {
	readonly stanza: Stanza;
	readonly origin?: unknown;
}

/** A handler in a util.events object; returning non-nil stops the event. */
export type EventsHandler<E = unknown> = (this: void, event: E) => unknown;

/**
 * A wrapper (`module:wrap_event`): runs around every handler of an event;
 * call `handlers(event_name, event_data)` to run them (or the next wrapper).
 */
export type EventsWrapper<E = unknown> = (
	this: void,
	handlers: (this: void, event_name: string, event_data: E) => unknown,
	event_name: string,
	event_data: E,
) => unknown;

/** Adds or removes a handler (or, for `wrappers`, a wrapper) by event name. */
interface EventsRegistry<H> {
	add_handler(this: void, event: string, handler: H, priority?: number): void;
	remove_handler(this: void, event: string, handler: H): void;
}

/**
 * util.events: an event dispatcher (a host's `events`, `prosody.events`).
 * Its functions are plain functions (called with `.`).
 */
export interface EventsObject extends EventsRegistry<EventsHandler<any>> {
	fire_event(this: void, event_name: string, event_data?: unknown): unknown;
	/** Per-event wrappers; `false` as event name wraps every event. */
	readonly wrappers: EventsRegistry<EventsWrapper<any>>;
}
