/**
 * `npm run bench`: the built module against Prosody's stock
 * mod_invites_register (loaded from the installed Prosody at run time,
 * never copied here) and against the previous version of our module (the
 * baseline, taken from git), side by side in one run.
 *
 *   1. hook cost, in identical simulated hosts on real Lua 5.4 and LuaJIT
 *      (Prosody 0.12's code), and on Lua 5.4 with Prosody 13's code, also
 *      with 10, 1000 and 10000 pending invites in the (in-memory) store;
 *   2. file size and load time;
 *   3. invited registrations on a real Prosody 0.12, with file and SQLite
 *      storage, at each store size: registrations per second and server
 *      CPU per registration, ours / baseline / stock;
 *   4. abuse (bench/abuse.ts): a flood of made-up <preauth/> tokens on real
 *      Prosody 0.12 and 13 while legitimate clients register: server CPU,
 *      registration latency and outcome, how the IQs were answered, ours / stock.
 *
 * Prints the tables with the machine and versions, and writes
 * bench/results/latest.json.
 *
 *   npm run bench -- --rounds 15 --registrations 300 --concurrency 20 --e2e-rounds 5
 *
 * Options (defaults in brackets):
 *   --rounds N           hook rounds [15]
 *   --skip-hooks         no hook and size/load measurements
 *   --skip-e2e           no end-to-end measurements
 *   --storages LIST      end to end: storages, internal and/or sqlite [internal,sqlite]
 *   --pending LIST       end to end: pending account invites in the store when the
 *                        timed registrations start, one set of runs each [300,3000];
 *                        the registrations use invites among them, so the store
 *                        shrinks by --registrations during a run
 *   --registrations N    end to end: registrations per run, each with its own invite [300]
 *   --concurrency N      end to end: clients registering at a time [20]
 *   --e2e-rounds N       end to end: runs per module, storage and store size [5]
 *   --baseline REV       end to end: the baseline is `git show REV:dist-lua/mod_invites_register.lua`,
 *                        run from a temporary plugin folder ["none": no baseline] [7d065e7]
 *   --skip-abuse         no abuse measurements
 *   --abuse-only         only the abuse measurements (no hooks, size/load or end to end)
 *   --abuse-iqs N        abuse: <preauth/> IQs the attacker sends at most [2000]
 *   --abuse-pending N    abuse: pending account invites in the (file) store [1000]
 *   --abuse-window N     abuse: the attacker's IQs in flight per connection [50]
 *   --abuse-seconds N    abuse: the flood's time bound [60]
 *   --abuse-versions L   abuse: Prosody versions, 0.12 and/or 13 [0.12,13]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { builtModuleDir, prosodySource, repoRoot, type ProsodyVersion } from "../spec/support/prosody_sources.js";
import { extractBaseline, runE2E, type E2ERound, type Variant } from "./e2e.js";
import { ABUSE_LIMITS, ABUSE_TARGETS, abuseReport, runAbuse, type AbuseRun } from "./abuse.js";

const { values } = parseArgs({
	options: {
		rounds: { type: "string", default: "15" },
		registrations: { type: "string", default: "300" },
		concurrency: { type: "string", default: "20" },
		"e2e-rounds": { type: "string", default: "5" },
		"skip-e2e": { type: "boolean", default: false },
		"skip-hooks": { type: "boolean", default: false },
		storages: { type: "string", default: "internal,sqlite" },
		pending: { type: "string", default: "300,3000" },
		baseline: { type: "string", default: "7d065e7" },
		"skip-abuse": { type: "boolean", default: false },
		"abuse-only": { type: "boolean", default: false },
		"abuse-iqs": { type: "string", default: "2000" },
		"abuse-pending": { type: "string", default: "1000" },
		"abuse-window": { type: "string", default: "50" },
		"abuse-seconds": { type: "string", default: "60" },
		"abuse-versions": { type: "string", default: "0.12,13" },
	},
});
const abuseOnly = values["abuse-only"];
if (abuseOnly && values["skip-abuse"]) throw new Error("--abuse-only and --skip-abuse: nothing left to run");
const abuseSettings = {
	iqs: Number(values["abuse-iqs"]),
	pending: Number(values["abuse-pending"]),
	window: Number(values["abuse-window"]),
	seconds: Number(values["abuse-seconds"]),
	versions: values["abuse-versions"].split(",") as ProsodyVersion[],
};
for (const [name, value] of Object.entries({ "abuse-iqs": abuseSettings.iqs, "abuse-pending": abuseSettings.pending, "abuse-window": abuseSettings.window, "abuse-seconds": abuseSettings.seconds })) {
	if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: a positive whole number, not ${value}`);
}
for (const version of abuseSettings.versions) {
	if (version !== "0.12" && version !== "13") throw new Error(`--abuse-versions: 0.12 and/or 13, not ${version}`);
}
const rounds = Number(values.rounds);
const registrations = Number(values.registrations);
const concurrency = Number(values.concurrency);
const e2eRounds = Number(values["e2e-rounds"]);
const pendingCounts = values.pending.split(",").map(Number);
const storageList = values.storages.split(",") as ("internal" | "sqlite")[];
for (const [name, value] of Object.entries({ rounds, registrations, concurrency, "e2e-rounds": e2eRounds })) {
	if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: a positive whole number, not ${value}`);
}
for (const n of values["skip-e2e"] || abuseOnly ? [] : pendingCounts) {
	if (!Number.isInteger(n) || n < registrations) throw new Error(`--pending: whole numbers, each at least --registrations (${registrations}); got ${values.pending}`);
}
for (const storage of storageList) {
	if (storage !== "internal" && storage !== "sqlite") throw new Error(`--storages: internal and/or sqlite, not ${storage}`);
}

const TARGETS = { hook: 1.0, size: 1.3, e2e: 0.95 };

interface HookWorkload {
	name: string;
	calls_per_batch: number;
	ours_ns: number;
	stock_ns: number;
	ratio: number;
	ratio_low: number;
	ratio_high: number;
	/** Pending account invites in the store, for the workloads that set it (then also `family`, the workload without the count). */
	pending?: number;
	family?: string;
	rounds?: number;
	control_ns: number;
	control_ratio: number;
}
interface HookRun {
	lua: string;
	prosody: string;
	rounds: number;
	workloads: HookWorkload[];
	load: Record<"ours" | "stock", { bytes: number; compile_us: number; load_us: number }>;
}

function firstLine(command: string, args: string[]): string {
	try {
		return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0].trim();
	} catch (err) {
		return (err as { stderr?: string }).stderr?.split("\n")[0].trim() ?? "unknown";
	}
}

function machine() {
	const cpus = os.cpus();
	return {
		cpu: cpus[0]?.model ?? "unknown",
		cores: cpus.length,
		memory_gib: Math.round(os.totalmem() / 2 ** 30),
		kernel: `${os.type()} ${os.release()}`,
		node: process.version,
		lua: [firstLine("lua5.4", ["-v"]), firstLine("luajit", ["-v"])],
		prosody: { "0.12": firstLine("cat", [path.join(prosodySource("0.12"), "prosody.version")]), "13": firstLine("cat", [path.join(prosodySource("13"), "prosody.version")]) },
		date: new Date().toISOString(),
	};
}

function runHooks(interpreter: string, version: "0.12" | "13"): HookRun {
	const out = execFileSync(interpreter, [path.join(repoRoot, "bench/hooks.lua"), prosodySource(version), version, builtModuleDir, String(rounds)], {
		encoding: "utf8",
		maxBuffer: 1 << 24,
	});
	return JSON.parse(out) as HookRun;
}

/** A Markdown table: the first `left` columns aligned left, the others right. */
function table(headers: string[], rows: string[][], left = 1): string {
	const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => "| " + cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") + " |";
	return [line(headers), "|" + widths.map((w, i) => (i < left ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)].join("\n");
}

const fmtNs = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(1)} µs` : `${ns.toFixed(1)} ns`);
const mark = (ratio: number, target: number, higherIsBetter = false) => ((higherIsBetter ? ratio >= target : ratio <= target) ? "" : " ✗");

function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

const info = machine();
log(`bench: ${info.cpu}, ${info.cores} cores; hook rounds ${rounds}`);
const hookRuns: HookRun[] = [];
const hookRunsToDo = values["skip-hooks"] || abuseOnly ? [] : ([["lua5.4", "0.12"], ["luajit", "0.12"], ["lua5.4", "13"]] as const);
for (const [interpreter, version] of hookRunsToDo) {
	log(`  hooks: ${interpreter}, Prosody ${version}`);
	hookRuns.push(runHooks(interpreter, version));
}

let e2e: E2ERound[] = [];
let baseline: { rev: string; commit: string; bytes: number } | undefined;
if (!values["skip-e2e"] && !abuseOnly) {
	const extracted = values.baseline === "none" ? undefined : extractBaseline(values.baseline);
	if (extracted) baseline = { rev: values.baseline, commit: extracted.commit, bytes: extracted.bytes };
	log(
		`  e2e: Prosody 0.12, ${pendingCounts.join(" and ")} pending invites, ${registrations} registrations per run, concurrency ${concurrency}, ${e2eRounds} rounds` +
			(extracted ? `; baseline ${extracted.commit.slice(0, 10)} (${values.baseline})` : ""),
	);
	try {
		e2e = await runE2E({ version: "0.12", storages: storageList, pending: pendingCounts, rounds: e2eRounds, registrations, concurrency, baselineDir: extracted?.dir }, log);
	} finally {
		extracted?.remove();
	}
}

let abuse: AbuseRun[] = [];
if (!values["skip-abuse"]) {
	log(
		`  abuse: Prosody ${abuseSettings.versions.join(" and ")}, file storage, ${abuseSettings.pending} pending invites, ` +
			`${abuseSettings.iqs} made-up tokens, ${abuseSettings.window} in flight, at most ${abuseSettings.seconds} s per flood`,
	);
	abuse = await runAbuse(abuseSettings, log);
}

const out: string[] = [];
out.push(`Machine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB; ${info.kernel}; Node ${info.node}`);
out.push(`Lua: ${info.lua.join("; ")}. Prosody: ${info.prosody["0.12"]} (Debian), ${info.prosody["13"]} (bookworm-backports).`);
out.push(`Ours: dist-lua/mod_invites_register.lua. Stock: mod_invites_register.lua of the same Prosody.`);
out.push("");
if (hookRuns.length > 0) {
out.push(`1. Hook cost: median time per call over ${rounds} interleaved rounds (ratio: ours/stock, interquartile range of the per-round ratios; target ≤ ${TARGETS.hook.toFixed(2)})`);
out.push(`   A/A: a second copy of the stock module against the stock module, measured the same way: how far from 1.00 a ratio is by noise alone.`);
for (const run of hookRuns) {
	out.push("");
	out.push(`${run.lua}, Prosody ${run.prosody}`);
	out.push(
		table(
			["workload", "ours", "stock", "ours/stock", "IQR", "A/A"],
			run.workloads.filter((w) => w.pending === undefined).map((w) => [
				w.name,
				fmtNs(w.ours_ns),
				fmtNs(w.stock_ns),
				`${w.ratio.toFixed(2)}${mark(w.ratio, TARGETS.hook)}`,
				`${w.ratio_low.toFixed(2)}–${w.ratio_high.toFixed(2)}`,
				w.control_ratio.toFixed(2),
			]),
		),
	);
}
const scaling = hookRuns.flatMap((run) => run.workloads.filter((w) => w.pending !== undefined).map((w) => ({ run, w })));
if (scaling.length > 0) {
	const pendingRounds = Math.max(...scaling.map(({ w }) => w.rounds ?? rounds));
	out.push("");
	out.push(
		`1b. Hook cost with N pending account invites in the (in-memory) store: it must not grow with N. Medians over ${pendingRounds} rounds; ` +
			`growth: time per call ÷ the same module's at the smallest N.`,
	);
	out.push(
		"    The valid-invite workload creates its invites 10 at a time between timed stretches of 10 registrations (the store holds N to N + 10), so it is not comparable to the row of table 1.",
	);
	out.push("");
	const rows: string[][] = [];
	for (const { run, w } of scaling) {
		const first = run.workloads.filter((o) => o.family === w.family).sort((a, b) => a.pending! - b.pending!)[0];
		rows.push([
			`${run.lua}, ${run.prosody}`,
			w.family!,
			String(w.pending),
			fmtNs(w.ours_ns),
			fmtNs(w.stock_ns),
			w.ratio.toFixed(2),
			w.control_ratio.toFixed(2),
			(w.ours_ns / first.ours_ns).toFixed(2),
			(w.stock_ns / first.stock_ns).toFixed(2),
		]);
	}
	out.push(table(["Lua, Prosody", "workload", "pending", "ours", "stock", "ours/stock", "A/A", "ours growth", "stock growth"], rows, 2));
}
out.push("");
out.push(`2. Size and load (Prosody 0.12's stock file; target size ≤ ${TARGETS.size.toFixed(2)}×)`);
out.push("");
const sizeRows: string[][] = [];
const first = hookRuns[0].load;
sizeRows.push(["bytes", String(first.ours.bytes), String(first.stock.bytes), `${(first.ours.bytes / first.stock.bytes).toFixed(2)}${mark(first.ours.bytes / first.stock.bytes, TARGETS.size)}`]);
for (const run of hookRuns.filter((r) => r.prosody === "0.12")) {
	sizeRows.push([`compile (loadfile), ${run.lua}`, `${run.load.ours.compile_us.toFixed(0)} µs`, `${run.load.stock.compile_us.toFixed(0)} µs`, (run.load.ours.compile_us / run.load.stock.compile_us).toFixed(2)]);
	sizeRows.push([`load as a module, ${run.lua}`, `${run.load.ours.load_us.toFixed(0)} µs`, `${run.load.stock.load_us.toFixed(0)} µs`, (run.load.ours.load_us / run.load.stock.load_us).toFixed(2)]);
}
out.push(table(["", "ours", "stock", "ours/stock"], sizeRows));
}

interface E2ESummary {
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
const e2eSummary: E2ESummary[] = [];
if (e2e.length > 0) {
	const runsOf = (storage: string, pending: number, module: Variant) => e2e.filter((r) => r.storage === storage && r.pending === pending && r.module === module);
	const perRoundRatios = (storage: string, pending: number, other: Variant): [number, number] => {
		const ours = runsOf(storage, pending, "built");
		const ratios = ours.map((r) => r.server_cpu_ms / runsOf(storage, pending, other).find((o) => o.round === r.round)!.server_cpu_ms);
		return [Math.min(...ratios), Math.max(...ratios)];
	};
	for (const storage of [...new Set(e2e.map((r) => r.storage))]) {
		for (const pending of [...new Set(e2e.map((r) => r.pending))]) {
			const med = (module: Variant, key: "per_second" | "server_cpu_ms") => median(runsOf(storage, pending, module).map((r) => r[key]));
			const hasBaseline = runsOf(storage, pending, "baseline").length > 0;
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
			if (hasBaseline) {
				summary.baseline = med("baseline", "per_second");
				summary.ratio_baseline = summary.ours / summary.baseline;
				summary.baseline_cpu_ms = med("baseline", "server_cpu_ms");
				summary.cpu_ratio_baseline = summary.ours_cpu_ms / summary.baseline_cpu_ms;
				summary.cpu_ratio_baseline_range = perRoundRatios(storage, pending, "baseline");
			}
			e2eSummary.push(summary);
		}
	}
	const withBaseline = e2eSummary.some((r) => r.baseline !== undefined);
	const storageName = (storage: string) => (storage === "internal" ? "file (internal)" : "SQLite");
	const range = (r: [number, number] | undefined) => (r ? `${r[0].toFixed(2)}–${r[1].toFixed(2)}` : "");
	if (out[out.length - 1] !== "") out.push("");
	out.push(
		`3. End to end on Prosody ${info.prosody["0.12"]}: ${registrations} invited registrations per run (${registrations} clients, ${concurrency} at a time), ` +
			`median of ${e2eRounds} runs per module, the order rotating from round to round.`,
	);
	out.push(
		`   Pending: account invites in the store when the timed registrations start; the registrations use ${registrations} of them, so the store ends ${registrations} smaller.`,
	);
	out.push(
		withBaseline
			? `   Ours: the working tree's dist-lua/. Baseline: dist-lua/ of ${baseline!.commit.slice(0, 10)} (${baseline!.rev}), ${baseline!.bytes} bytes. Stock: Prosody's own.`
			: "   Ours: the working tree's dist-lua/. Stock: Prosody's own. (No baseline: --baseline none.)",
	);
	out.push("");
	out.push("3a. Server CPU time per registration (from /proc; the range is the lowest and highest per-round ratio)");
	out.push("");
	out.push(
		table(
			["storage", "pending", "ours", ...(withBaseline ? ["baseline"] : []), "stock", ...(withBaseline ? ["ours/baseline", "range"] : []), "ours/stock", "range", "checks"],
			e2eSummary.map((r) => [
				storageName(r.storage),
				String(r.pending),
				`${r.ours_cpu_ms.toFixed(2)} ms`,
				...(withBaseline ? [r.baseline_cpu_ms === undefined ? "" : `${r.baseline_cpu_ms.toFixed(2)} ms`] : []),
				`${r.stock_cpu_ms.toFixed(2)} ms`,
				...(withBaseline ? [r.cpu_ratio_baseline?.toFixed(2) ?? "", range(r.cpu_ratio_baseline_range)] : []),
				r.cpu_ratio.toFixed(2),
				range(r.cpu_ratio_range),
				r.checks_passed ? "ok" : "MISMATCH",
			]),
		),
	);
	out.push("");
	out.push(`3b. Registrations per second (target ours/stock ≥ ${TARGETS.e2e.toFixed(2)})`);
	out.push("");
	out.push(
		table(
			["storage", "pending", "ours /s", ...(withBaseline ? ["baseline /s"] : []), "stock /s", ...(withBaseline ? ["ours/baseline"] : []), "ours/stock"],
			e2eSummary.map((r) => [
				storageName(r.storage),
				String(r.pending),
				r.ours.toFixed(1),
				...(withBaseline ? [r.baseline?.toFixed(1) ?? ""] : []),
				r.stock.toFixed(1),
				...(withBaseline ? [r.ratio_baseline?.toFixed(2) ?? ""] : []),
				`${r.ratio.toFixed(2)}${mark(r.ratio, TARGETS.e2e, true)}`,
			]),
		),
	);
	out.push("");
	out.push(
		`Checks, every run: ${registrations} accounts (one per invite used), none of those invites still valid, the other pending invites still there, no refusal, no error in the log, and the server loaded the intended file.`,
	);
	out.push("The clients run on the same machine, so registrations per second also measure them; the server's own CPU time (from /proc) does not.");
}

if (abuse.length > 0) {
	if (out[out.length - 1] !== "") out.push("");
	out.push(...abuseReport(abuse, table));
}

console.log(out.join("\n"));

const resultsDir = path.join(repoRoot, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, "latest.json");
writeFileSync(file, JSON.stringify({ machine: info, targets: TARGETS, settings: { rounds, registrations, concurrency, e2e_rounds: e2eRounds, storages: storageList, pending: pendingCounts, baseline: baseline ?? null }, hooks: hookRuns, e2e: { runs: e2e, summary: e2eSummary }, abuse: { settings: { ...abuseSettings, limits: ABUSE_LIMITS }, targets: ABUSE_TARGETS, runs: abuse } }, null, "\t") + "\n");
log(`\nResults: ${path.relative(process.cwd(), file)}`);
