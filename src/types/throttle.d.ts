/**
 * util.throttle and util.cache (/usr/lib/prosody/util/throttle.lua,
 * util/cache.lua; the same in 0.12 and 13).
 */

/** A token bucket: `max` units, refilled at `max` per `period` seconds. */
export interface Throttle {
	/** Whether `cost` units (default 1) are available, without taking them. */
	peek(cost?: number): boolean;
	/** Takes `cost` units (default 1) when available; false when not. */
	poll(cost?: number, split?: boolean): boolean;
}

export interface ThrottleLib {
	create(this: void, max: number, period: number): Throttle;
}

/** A least-recently-used map of at most `size` entries. */
export interface Cache<K, V> {
	get(key: K): V | undefined;
	/** Sets (or, with nil, removes) a value; the least recently used entry goes when full. */
	set(key: K, value: V | undefined): boolean;
	count(): number;
}

export interface CacheLib {
	new: <K, V>(this: void, size: number) => Cache<K, V>;
}
