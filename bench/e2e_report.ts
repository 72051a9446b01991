/**
 * What `npm run bench` prints for the end-to-end runs of bench/e2e.ts:
 * tables 3a (server CPU per registration, the figure to trust), 3b
 * (registrations per second) and 3c (store operations per registration),
 * with the medians over the rounds that latest.json keeps as the summary.
 */
import { keys, type Comparison } from "./compare.js";
import type { E2ERound, StoreOperations, Variant } from "./e2e.js";
import { median, storageLabel, table } from "./tables.js";
import { TARGETS } from "./targets.js";

export interface E2ESummary {
	storage: string;
	pending: number;
	/** Registrations per second, medians. */
	ours: number;
	stock: number;
	baseline?: number;
	/** ours / stock and ours / baseline, of the medians. */
	ratio: number;
	ratio_baseline?: number;
	/** Server CPU per registration (ms), medians, and their ratios. */
	ours_cpu_ms: number;
	stock_cpu_ms: number;
	baseline_cpu_ms?: number;
	cpu_ratio: number;
	cpu_ratio_baseline?: number;
	/** Lowest and highest of the per-round ratios (each round runs every module once). */
	cpu_ratio_range: [number, number];
	cpu_ratio_baseline_range?: [number, number];
	checks_passed: boolean;
}

export interface E2EReportSettings {
	prosody: string;
	registrations: number;
	concurrency: number;
	rounds: number;
	baseline?: { rev: string; commit: string; bytes: number };
}

/** The medians of each storage and store size that both ours and stock have runs of. */
export function summarise(e2e: E2ERound[], registrations: number): E2ESummary[] {
	const runsOf = (storage: string, pending: number, module: Variant) => e2e.filter((r) => r.storage === storage && r.pending === pending && r.module === module);
	const perRoundRatios = (storage: string, pending: number, other: Variant): [number, number] => {
		const ratios = runsOf(storage, pending, "built").flatMap((r) => {
			const theirs = runsOf(storage, pending, other).find((o) => o.round === r.round);
			return theirs !== undefined ? [r.server_cpu_ms / theirs.server_cpu_ms] : [];
		});
		return ratios.length > 0 ? [Math.min(...ratios), Math.max(...ratios)] : [NaN, NaN];
	};
	const summaries: E2ESummary[] = [];
	for (const storage of [...new Set(e2e.map((r) => r.storage))]) {
		for (const pending of [...new Set(e2e.map((r) => r.pending))]) {
			if (runsOf(storage, pending, "built").length === 0 || runsOf(storage, pending, "stock").length === 0) continue; // listed with the failures
			const med = (module: Variant, key: "per_second" | "server_cpu_ms") => median(runsOf(storage, pending, module).map((r) => r[key]));
			const summary: E2ESummary = {
				storage,
				pending,
				ours: med("built", "per_second"),
				stock: med("stock", "per_second"),
				ratio: med("built", "per_second") / med("stock", "per_second"),
				ours_cpu_ms: med("built", "server_cpu_ms"),
				stock_cpu_ms: med("stock", "server_cpu_ms"),
				cpu_ratio: med("built", "server_cpu_ms") / med("stock", "server_cpu_ms"),
				cpu_ratio_range: perRoundRatios(storage, pending, "stock"),
				// Runs that fail a check throw, so every recorded run passed them.
				checks_passed: e2e.filter((r) => r.storage === storage && r.pending === pending).every((r) => r.accounts === registrations && r.refused === 0 && r.pending_after === pending - registrations),
			};
			if (runsOf(storage, pending, "baseline").length > 0) {
				summary.baseline = med("baseline", "per_second");
				summary.ratio_baseline = summary.ours / summary.baseline;
				summary.baseline_cpu_ms = med("baseline", "server_cpu_ms");
				summary.cpu_ratio_baseline = summary.ours_cpu_ms / summary.baseline_cpu_ms;
				summary.cpu_ratio_baseline_range = perRoundRatios(storage, pending, "baseline");
			}
			summaries.push(summary);
		}
	}
	return summaries;
}

/** Tables 3a and 3b. */
export function e2eReport(summaries: E2ESummary[], settings: E2EReportSettings, compare: Comparison): string[] {
	if (summaries.length === 0) return [];
	const { registrations, concurrency, rounds, baseline } = settings;
	const withBaseline = summaries.some((r) => r.baseline !== undefined);
	const range = (r: [number, number] | undefined) => (r ? `${r[0].toFixed(2)}–${r[1].toFixed(2)}` : "");
	const { low, high } = TARGETS.e2e_cpu_vs_baseline;
	const baselineCell = (ratio: number | undefined) => (ratio === undefined ? "" : `${ratio.toFixed(2)}${ratio > high ? " ✗" : ratio < low ? " ↓" : ""}`);
	return [
		`3. End to end on Prosody ${settings.prosody}: ${registrations} invited registrations per run (${registrations} clients, ${concurrency} at a time), ` +
			`median of ${rounds} runs per module, the order rotating from round to round.`,
		`   Pending: account invites in the store when the timed registrations start; the registrations use ${registrations} of them, so the store ends ${registrations} smaller.`,
		withBaseline
			? `   Ours: the working tree's dist-lua/. Baseline: dist-lua/ of ${baseline!.commit.slice(0, 10)} (${baseline!.rev}), ${baseline!.bytes} bytes. Stock: Prosody's own.`
			: "   Ours: the working tree's dist-lua/. Stock: Prosody's own. (No baseline: --baseline none.)",
		"",
		"3a. Server CPU time per registration (from /proc; the range is the lowest and highest per-round ratio)" +
			(withBaseline ? `. Target: ours/baseline ≤ ${high.toFixed(2)} (the cost target of the XEP-0445 work); ↓: below ${low.toFixed(2)}, cheaper (check nothing is skipped).` : ""),
		"",
		table(
			["storage", "pending", "ours", ...(withBaseline ? ["baseline"] : []), "stock", ...(withBaseline ? ["ours/baseline", "range"] : []), "ours/stock", "range", "checks", ...compare.headers],
			summaries.map((r) => [
				storageLabel(r.storage),
				String(r.pending),
				`${r.ours_cpu_ms.toFixed(2)} ms`,
				...(withBaseline ? [r.baseline_cpu_ms === undefined ? "" : `${r.baseline_cpu_ms.toFixed(2)} ms`] : []),
				`${r.stock_cpu_ms.toFixed(2)} ms`,
				...(withBaseline ? [baselineCell(r.cpu_ratio_baseline), range(r.cpu_ratio_baseline_range)] : []),
				r.cpu_ratio.toFixed(2),
				range(r.cpu_ratio_range),
				r.checks_passed ? "ok" : "MISMATCH",
				...compare.cells("e2e", keys.e2e(r.storage, r.pending), `${storageLabel(r.storage)}, ${r.pending} pending`, { ours: r.ours_cpu_ms, stock: r.stock_cpu_ms }, TARGETS.compare.e2e_cpu),
			]),
		),
		"",
		"3b. Registrations per second (no target: the clients share the machine; 3a is the figure to trust)",
		"",
		table(
			["storage", "pending", "ours /s", ...(withBaseline ? ["baseline /s"] : []), "stock /s", ...(withBaseline ? ["ours/baseline"] : []), "ours/stock"],
			summaries.map((r) => [
				storageLabel(r.storage),
				String(r.pending),
				r.ours.toFixed(1),
				...(withBaseline ? [r.baseline?.toFixed(1) ?? ""] : []),
				r.stock.toFixed(1),
				...(withBaseline ? [r.ratio_baseline?.toFixed(2) ?? ""] : []),
				r.ratio.toFixed(2),
			]),
		),
		"",
		`Checks, every run: ${registrations} accounts (one per invite used), none of those invites still valid, the other pending invites still there, no refusal, no error in the log, and the server loaded the intended file.`,
		"The clients run on the same machine, so registrations per second also measure them; the server's own CPU time (from /proc) does not.",
	];
}

/** Table 3c. */
export function storeOpsReport(storeOps: StoreOperations[], pending: number): string[] {
	if (storeOps.length === 0) return [];
	const variants = [...new Set(storeOps.map((r) => r.module))];
	const label: Record<Variant, string> = { built: "ours", baseline: "baseline", stock: "stock" };
	const out = [
		`3c. Store operations per invited registration (<preauth/> to user-registered; ${storeOps[0].registrations} registrations one at a time, ${pending} pending; ` +
			"counted by a wrapping storage driver, harness/server/prosody_plugins/mod_storage_test.lua). With file storage every invite_token operation reads and/or writes the whole invite file; on 0.12 a map set there is a get and a set.",
		"",
	];
	for (const storage of [...new Set(storeOps.map((r) => r.storage))]) {
		const rows = storeOps.filter((r) => r.storage === storage);
		const opNames = [...new Set(rows.flatMap((r) => Object.keys(r.per_registration)))].sort();
		const cell = (r: StoreOperations | undefined, op: string) => {
			const n = r?.per_registration[op] ?? 0;
			return Number.isInteger(n) ? String(n) : n.toFixed(2);
		};
		const byModule = (m: Variant) => rows.find((r) => r.module === m);
		const total = (r: StoreOperations | undefined) => Object.values(r?.per_registration ?? {}).reduce((a, b) => a + b, 0);
		out.push(`   ${storageLabel(storage)}:`);
		out.push(
			table(
				["store operation", ...variants.map((m) => label[m])],
				[...opNames.map((op) => [op, ...variants.map((m) => cell(byModule(m), op))]), ["all", ...variants.map((m) => total(byModule(m)).toFixed(2).replace(/\.00$/, ""))]],
			),
		);
		out.push("");
	}
	return out;
}
