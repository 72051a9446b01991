/**
 * What `npm run bench` holds the figures to: the one place the tables read
 * their ✗ marks from. A ✗ marks a miss and nothing else is marked.
 *
 *   | what                                        | target                              |
 *   |---------------------------------------------|-------------------------------------|
 *   | presence hot path, ours/stock (1, 1c)       | ≤ 1 + abs(A/A − 1) + 0.05           |
 *   | growth with N pending / roster entries,     | ≤ 1.5 (time per call at N ÷ at the  |
 *   |   ours (1b, 1c)                             |   smallest N)                       |
 *   | server CPU per registration, ours/baseline  | ≤ 1.05 (below 0.95: "↓ cheaper",    |
 *   |   (3a)                                      |   not a miss)                       |
 *   | a flood's server CPU, ours (4a)             | ≤ 2 s                               |
 *   | a registration during a flood, ours (4a)    | registered, in ≤ 3 s                |
 *   | scale (5), SQL storage                      | ours/stock ≤ 1.1, longest block     |
 *   |                                             | ≤ 50 ms, module load ≤ 1 s of CPU   |
 *
 * The presence hot path (presence/bare: every presence to a local user) must
 * cost what the stock module's does; nothing may grow with the pending
 * invites or the roster (no read of all of them per event); the XEP-0445
 * work was to keep a registration's server CPU within 5 % of the baseline's;
 * a flood of made-up tokens must neither load the server nor lock invitees
 * out. Not targets, shown unmarked: the other hook ratios (ours does more by
 * design, e.g. two more storage reads per invited registration), size and
 * load, registrations per second (3b: the clients share the machine, 3a is
 * the figure to trust), and the stock module's abuse figures.
 *
 * --compare (bench/compare.ts) marks a row ✗ when ours' now/saved is above
 * its threshold and so is ours' now/saved ÷ stock's (a machine slower today
 * across the board is not a regression):
 *
 *   | row                              | ✗ above      | why                                                  |
 *   |----------------------------------|--------------|------------------------------------------------------|
 *   | hook time per call (1, 1b, 1c)   | 1.10         | within one run the A/A control is within a few per   |
 *   |                                  |              | cent at 15 rounds; two runs differ more (another     |
 *   |                                  |              | process: heap layout, JIT traces, CPU clock)         |
 *   | compile, load as a module (2)    | 1.10         | timed as the hooks are                               |
 *   | bytes (2)                        | never marked | exact; a larger file is a choice, shown as a ratio   |
 *   | server CPU per registration (3a) | 1.05         | the XEP-0445 work's cost target (±5 %): a regression |
 *   |                                  |              | of the size it forbids                               |
 *   | a flood's server CPU (4a)        | 1.25 and     | ours' is 0.04–0.4 s, and depends on when connections |
 *   |                                  | +0.1 s       | close: tens of ms either way are timing              |
 *
 * These assume a quiet machine. On a busy one (measured on a 2-core VM
 * while a test suite ran: run-to-run hook ratios at --rounds 2 from 0.71 to
 * 1.39 after the stock correction, and a registration's server CPU moving
 * by 15 % from one round to the next) a ✗ may be noise: check 3a's
 * per-round range and the stock column, and run again.
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
