/**
 * `npm run bench`: the built module against Prosody's stock
 * mod_invites_register (loaded from the installed Prosody at run time,
 * never copied here), side by side in one run.
 *
 *   1. hook cost, in identical simulated hosts on real Lua 5.4 and LuaJIT
 *      (Prosody 0.12's code), and on Lua 5.4 with Prosody 13's code;
 *   2. file size and load time;
 *   3. invited registrations per second on a real Prosody 0.12, with file
 *      and SQLite storage.
 *
 * Prints the tables with the machine and versions, and writes
 * bench/results/latest.json.
 *
 *   npm run bench -- --rounds 15 --registrations 300 --concurrency 20 --e2e-rounds 5
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { builtModuleDir, prosodySource, repoRoot } from "../spec/support/prosody_sources.js";
import { runE2E, type E2ERound } from "./e2e.js";

const { values } = parseArgs({
	options: {
		rounds: { type: "string", default: "15" },
		registrations: { type: "string", default: "300" },
		concurrency: { type: "string", default: "20" },
		"e2e-rounds": { type: "string", default: "5" },
		"skip-e2e": { type: "boolean", default: false },
		"skip-hooks": { type: "boolean", default: false },
		storages: { type: "string", default: "internal,sqlite" },
	},
});
const rounds = Number(values.rounds);
const registrations = Number(values.registrations);
const concurrency = Number(values.concurrency);
const e2eRounds = Number(values["e2e-rounds"]);

const TARGETS = { hook: 1.0, size: 1.3, e2e: 0.95 };

interface HookWorkload {
	name: string;
	calls_per_batch: number;
	ours_ns: number;
	stock_ns: number;
	ratio: number;
	ratio_low: number;
	ratio_high: number;
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

function table(headers: string[], rows: string[][]): string {
	const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") + " |";
	return [line(headers), "|" + widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)].join("\n");
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
const hookRunsToDo = values["skip-hooks"] ? [] : ([["lua5.4", "0.12"], ["luajit", "0.12"], ["lua5.4", "13"]] as const);
for (const [interpreter, version] of hookRunsToDo) {
	log(`  hooks: ${interpreter}, Prosody ${version}`);
	hookRuns.push(runHooks(interpreter, version));
}

let e2e: E2ERound[] = [];
if (!values["skip-e2e"]) {
	log(`  e2e: Prosody 0.12, ${registrations} registrations per run, concurrency ${concurrency}, ${e2eRounds} rounds`);
	const storages = values.storages.split(",") as ("internal" | "sqlite")[];
	e2e = await runE2E({ version: "0.12", storages, rounds: e2eRounds, registrations, concurrency }, log);
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
			run.workloads.map((w) => [
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

const e2eSummary: { storage: string; ours: number; stock: number; ratio: number; ours_cpu_ms: number; stock_cpu_ms: number; cpu_ratio: number }[] = [];
if (e2e.length > 0) {
	out.push("");
	out.push(`3. End to end: invited registrations per second on Prosody ${info.prosody["0.12"]}, ${registrations} clients per run, ${concurrency} at a time, median of ${e2eRounds} alternating runs (target ≥ ${TARGETS.e2e.toFixed(2)}×)`);
	out.push("");
	const rows: string[][] = [];
	for (const storage of [...new Set(e2e.map((r) => r.storage))]) {
		const ours = median(e2e.filter((r) => r.storage === storage && r.module === "built").map((r) => r.per_second));
		const stock = median(e2e.filter((r) => r.storage === storage && r.module === "stock").map((r) => r.per_second));
		const oursCpu = median(e2e.filter((r) => r.storage === storage && r.module === "built").map((r) => r.server_cpu_ms));
		const stockCpu = median(e2e.filter((r) => r.storage === storage && r.module === "stock").map((r) => r.server_cpu_ms));
		e2eSummary.push({ storage, ours, stock, ratio: ours / stock, ours_cpu_ms: oursCpu, stock_cpu_ms: stockCpu, cpu_ratio: oursCpu / stockCpu });
		const accounts = e2e.filter((r) => r.storage === storage).every((r) => r.accounts === registrations);
		rows.push([
			storage === "internal" ? "file (internal)" : "SQLite",
			ours.toFixed(1),
			stock.toFixed(1),
			`${(ours / stock).toFixed(2)}${mark(ours / stock, TARGETS.e2e, true)}`,
			`${oursCpu.toFixed(2)} / ${stockCpu.toFixed(2)} ms`,
			(oursCpu / stockCpu).toFixed(2),
			accounts ? `${registrations} per run` : "MISMATCH",
		]);
	}
	out.push(table(["storage", "ours /s", "stock /s", "ours/stock", "server CPU per registration, ours / stock", "CPU ours/stock", "accounts (= invites)"], rows));
	out.push("");
	out.push("The clients run on the same machine, so registrations per second also measure them; the server's own CPU time (from /proc) does not.");
}

console.log(out.join("\n"));

const resultsDir = path.join(repoRoot, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, "latest.json");
writeFileSync(file, JSON.stringify({ machine: info, targets: TARGETS, settings: { rounds, registrations, concurrency, e2e_rounds: e2eRounds }, hooks: hookRuns, e2e: { runs: e2e, summary: e2eSummary } }, null, "\t") + "\n");
log(`\nResults: ${path.relative(process.cwd(), file)}`);
