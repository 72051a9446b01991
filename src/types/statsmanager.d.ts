/**
 * Statistics, as `module:measure` and `module:metric` return them
 * (/usr/lib/prosody/core/statsmanager.lua, util/openmetrics.lua,
 * util/statistics.lua; the same in 0.12 and 13). With statistics disabled
 * (no `statistics` option) both return a dummy that accepts every call.
 */

/**
 * `module:measure(name, type)`: the pre-OpenMetrics ("legacy") interface,
 * a function to call with each value.
 */
export interface LegacyMeasures {
	/** A gauge: call with the current amount. */
	amount: (this: void, value: number) => void;
	/** A counter: call with the increment. */
	counter: (this: void, delta: number) => void;
	/** A counter: call (without arguments) once per occurrence. */
	rate: (this: void) => void;
	/** A summary: call with each sample. */
	distribution: (this: void, value: number) => void;
	/** A histogram in bytes: call with each size. */
	sizes: (this: void, size: number) => void;
	/** A histogram in seconds: call to start timing; call what it returns when done. */
	times: (this: void) => (this: void) => void;
}

/** `conf` of `module:measure`: a number is the initial value of an "amount". */
export interface LegacyMeasureConfig {
	description?: string;
	unit?: string;
	/** "amount": the initial value (default 0). */
	initial?: number;
	/** "times" and "sizes": histogram bucket limits. */
	buckets?: number[];
}

export interface GaugeMetric {
	set(value: number): void;
	add(delta: number): void;
	reset(): void;
}

export interface CounterMetric {
	set(value: number): void;
	add(value: number): void;
	reset(): void;
}

export interface SampleMetric {
	sample(value: number): void;
	reset(): void;
}

/** OpenMetrics family types, as `module:metric(type, …)` takes them, and their metrics. */
export interface MetricTypes {
	gauge: GaugeMetric;
	counter: CounterMetric;
	/** Needs `conf.buckets`. */
	histogram: SampleMetric;
	summary: SampleMetric;
}

/**
 * A metric family (or, from a host module, a proxy with the `host` label
 * already set). Methods are called with `:`.
 */
export interface MetricFamily<M> {
	/** The metric for these label values, one per label key (an error otherwise). */
	with_labels(...label_values: string[]): M;
	/** A family with the first remaining label preset. */
	with_partial_label(label_value: string): MetricFamily<M>;
}
