/**
 * What `npm run bench` holds the figures to: the one place the tables read
 * their ✗ marks from (bench/run.ts's top comment explains each).
 */
export const TARGETS = {
	/** Presence hot path (presence/bare): ours/stock ≤ 1 + |A/A − 1| + this. */
	hot_path_margin: 0.05,
	/** Tables 1b, 1c: ours' time per call at any N ÷ ours' at the smallest N, at most. */
	growth: 1.5,
	/** Table 3a: server CPU per registration, ours/baseline (--baseline REV) at most; below `low`, marked as cheaper. */
	e2e_cpu_vs_baseline: { low: 0.95, high: 1.05 },
	/** Table 4a: server CPU of a flood (s) and a legitimate registration during it (s), ours, at most. */
	abuse: { flood_cpu_s: 2, registration_s: 3 },
	/**
	 * Table 5 (scale, SQLite): ours/stock server CPU per registration at
	 * most, at every size; ours' longest block (ms) at most; ours' module
	 * load (ms of CPU, a later start: not the first load of a version) at most.
	 */
	scale: { cpu_vs_stock: 1.1, longest_block_ms: 50, load_cpu_ms: 1000 },
	/**
	 * --compare: now/saved above which a row is marked as regressed (and
	 * only when the stock module's now/saved, the machine's drift, does not
	 * explain it); for the abuse CPU also at least `abuse_cpu_min_s` more.
	 */
	compare: { hook: 1.1, load: 1.1, e2e_cpu: 1.05, abuse_cpu: 1.25, abuse_cpu_min_s: 0.1 },
} as const;
