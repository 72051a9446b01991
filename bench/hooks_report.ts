/**
 * What `npm run bench` prints for the hook runs of bench/hooks.ts: table 1
 * (time per call, ours against stock, with the A/A control), 1b and 1c
 * (the same at N pending invites and roster entries, and how it grows) and
 * 2 (size and load).
 */
import { keys, type Comparison } from "./compare.js";
import type { HookRun, HookWorkload } from "./hooks.js";
import { miss, table } from "./tables.js";
import { TARGETS } from "./targets.js";

const fmtNs = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`);
const fmtHeap = (w: HookWorkload) => (w.peak_kib === undefined ? "" : `${(w.peak_kib / 1024).toFixed(1)} MiB${w.memory_bound ? " *" : ""}`);
/** The presence hot path's limit: the stock module's cost, within the A/A noise and a margin. */
const hotPathLimit = (w: HookWorkload) => 1 + Math.abs(w.control_ratio - 1) + TARGETS.hot_path_margin;
const hotPathCell = (w: HookWorkload) => `${w.ratio.toFixed(2)}${w.hot_path ? miss(w.ratio > hotPathLimit(w)) : ""}`;

/** The now/saved cells of a hook workload's row. */
function hookCompare(compare: Comparison, run: HookRun, w: HookWorkload): string[] {
	return compare.cells("hooks", keys.hook(run.lua, run.prosody, w.name), `${run.lua}, ${run.prosody}: ${w.name}`, { ours: w.ours_ns, stock: w.stock_ns }, TARGETS.compare.hook);
}

/** Table 1: the workloads without a pending or roster count. */
function hookTable(hookRuns: HookRun[], rounds: number, compare: Comparison): string[] {
	const plain = (run: HookRun) => run.workloads.filter((w) => w.pending === undefined && w.roster === undefined);
	const runs = hookRuns.filter((r) => plain(r).length > 0);
	if (runs.length === 0) return [];
	const out = [
		`1. Hook cost: median time per call over ${rounds} interleaved rounds (ratio: ours/stock, interquartile range of the per-round ratios). ` +
			`Target, presence hot path only: ours/stock ≤ 1 + |A/A − 1| + ${TARGETS.hot_path_margin.toFixed(2)}; the other workloads do more than stock's by design, unmarked.`,
		`   A/A: a second copy of the stock module against the stock module, measured the same way: how far from 1.00 a ratio is by noise alone.`,
		`   Peak heap: the Lua heap at the end of the fullest batch (the collector is stopped during a batch); *: batches cut to keep it bounded.`,
	];
	for (const run of runs) {
		out.push("", `${run.lua}, Prosody ${run.prosody}`);
		out.push(
			table(
				["workload", "ours", "stock", "ours/stock", "IQR", "A/A", "peak heap", ...compare.headers],
				plain(run).map((w) => [
					w.name,
					fmtNs(w.ours_ns),
					fmtNs(w.stock_ns),
					hotPathCell(w),
					`${w.ratio_low.toFixed(2)}–${w.ratio_high.toFixed(2)}`,
					w.control_ratio.toFixed(2),
					fmtHeap(w),
					...hookCompare(compare, run, w),
				]),
			),
		);
	}
	return out;
}

/** Tables 1b and 1c: the workloads at N pending invites or roster entries. */
function scalingTable(hookRuns: HookRun[], rounds: number, compare: Comparison, kind: "pending" | "roster", heading: string[]): string[] {
	const scaling = hookRuns.flatMap((run) => run.workloads.filter((w) => w[kind] !== undefined).map((w) => ({ run, w })));
	if (scaling.length === 0) return [];
	const scaleRounds = Math.max(...scaling.map(({ w }) => w.rounds ?? rounds));
	const rows = scaling.map(({ run, w }) => {
		const first = run.workloads.filter((o) => o.family === w.family && o[kind] !== undefined).sort((a, b) => a[kind]! - b[kind]!)[0];
		const growth = w.ours_ns / first.ours_ns;
		return [
			`${run.lua}, ${run.prosody}`,
			w.family!,
			String(w[kind]),
			fmtNs(w.ours_ns),
			fmtNs(w.stock_ns),
			hotPathCell(w),
			w.control_ratio.toFixed(2),
			`${growth.toFixed(2)}${miss(growth > TARGETS.growth)}`,
			(w.stock_ns / first.stock_ns).toFixed(2),
			fmtHeap(w),
			...hookCompare(compare, run, w),
		];
	});
	return [
		...heading.map((line) => line.replace("ROUNDS", String(scaleRounds))),
		"",
		table(["Lua, Prosody", "workload", kind === "pending" ? "pending" : "roster", "ours", "stock", "ours/stock", "A/A", "ours growth", "stock growth", "peak heap", ...compare.headers], rows, 2),
	];
}

/** Table 2: the files' size, and their compile and load time on 0.12. */
function sizeTable(hookRuns: HookRun[], compare: Comparison): string[] {
	const withLoad = hookRuns.filter((r) => r.load !== undefined);
	if (withLoad.length === 0) return [];
	const first = withLoad[0].load!;
	const rows: string[][] = [
		[
			"bytes",
			String(first.ours.bytes),
			String(first.stock.bytes),
			(first.ours.bytes / first.stock.bytes).toFixed(2),
			...compare.cells("load", keys.load("bytes", withLoad[0].lua), "bytes", { ours: first.ours.bytes, stock: first.stock.bytes }),
		],
	];
	for (const run of withLoad.filter((r) => r.prosody === "0.12")) {
		const load = run.load!;
		for (const [what, label, field] of [["compile", "compile (loadfile)", "compile_us"], ["load", "load as a module", "load_us"]] as const) {
			rows.push([
				`${label}, ${run.lua}`,
				`${load.ours[field].toFixed(0)} µs`,
				`${load.stock[field].toFixed(0)} µs`,
				(load.ours[field] / load.stock[field]).toFixed(2),
				...compare.cells("load", keys.load(what, run.lua), `${label}, ${run.lua}`, { ours: load.ours[field], stock: load.stock[field] }, TARGETS.compare.load),
			]);
		}
	}
	return [`2. Size and load (Prosody 0.12's stock file; no target: a larger file is a choice, shown)`, "", table(["", "ours", "stock", "ours/stock", ...compare.headers], rows)];
}

/** Sections 1 and 2, each a list of lines; and the workloads that did not finish. */
export function hooksReport(hookRuns: HookRun[], rounds: number, compare: Comparison): string[][] {
	const failures = hookRuns.flatMap((run) => run.failures);
	return [
		hookTable(hookRuns, rounds, compare),
		scalingTable(hookRuns, rounds, compare, "pending", [
			`1b. Hook cost with N pending account invites in the (in-memory) store: it must not grow with N. Medians over ROUNDS rounds; ` +
				`growth: time per call ÷ the same module's at the smallest N (target for ours ≤ ${TARGETS.growth.toFixed(2)}).`,
			"    The valid-invite workload creates its invites 10 at a time between timed stretches of 10 registrations (the store holds N to N + 10), so it is not comparable to the row of table 1.",
		]),
		scalingTable(hookRuns, rounds, compare, "roster", [
			`1c. Hook cost with N entries in the roster of the (offline) user the presence is sent to: it must not grow with N. Medians over ROUNDS rounds; ` +
				`growth as in 1b (target for ours ≤ ${TARGETS.growth.toFixed(2)}); the available presence is the hot path (target as in table 1).`,
			"    XEP-0379: subscription requests from new remote contacts, each with a valid token the user issued, made 10 at a time between timed stretches of 10 requests; " +
				"the contacts they add are taken out again (the roster holds N to N + 10).",
		]),
		sizeTable(hookRuns, compare),
		failures.length === 0 ? [] : ["Hook workloads that did not finish (the tables above have the others):", ...failures.map((f) => `  - ${f.message}`)],
	];
}
