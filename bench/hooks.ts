/**
 * The hook workloads of `npm run bench` (section 1): bench/hooks.lua run
 * under one Lua interpreter and Prosody version in the simulated Prosody,
 * ours against the stock module, its JSON lines read back; a process that
 * dies is reported and the workloads after it run in a new one.
 *
 * A hook process that dies (the OOM killer's SIGKILL, a crash, a non-zero
 * exit) is reported in plain words — which workload, interpreter and store
 * or roster size, and what it most likely means — and the other workloads
 * and tables go on; the run then exits with status 1. The hook workloads
 * stop the collector during a timed batch, so batch sizes are capped to
 * keep a batch's heap growth under 256 MiB; each table shows the peak heap.
 * To see the message: BENCH_HOOKS_FAIL=kill:TEXT (or exit:TEXT,
 * error:TEXT) makes bench/hooks.lua kill itself with SIGKILL (exit 3, raise
 * an error) when the workload whose name contains TEXT starts, e.g.
 *
 *   BENCH_HOOKS_FAIL='kill:10000 roster' npx tsx bench/run.ts --rounds 2 --skip-e2e --skip-abuse
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { builtModuleDir, prosodySource, repoRoot, type ProsodyVersion } from "../harness/server/prosody_sources.js";

export interface HookWorkload {
	name: string;
	calls_per_batch: number;
	ours_ns: number;
	stock_ns: number;
	ratio: number;
	ratio_low: number;
	ratio_high: number;
	/** Pending account invites in the store, for the workloads that set it (then also `family`, the workload without the count). */
	pending?: number;
	/** Entries in the roster of the user the events are sent to, for the workloads that set it (then also `family`). */
	roster?: number;
	family?: string;
	rounds?: number;
	/** The presence hot path: held to the stock module's cost within the A/A noise. */
	hot_path?: boolean;
	control_ns: number;
	control_ratio: number;
	/** The Lua heap (KiB): with the workload's hosts made; its peak (at the end of a batch); the most one batch added. */
	base_kib?: number;
	peak_kib?: number;
	batch_kib?: number;
	/** The batch size was cut to keep a batch's heap growth bounded (so batches are shorter than the time aimed at). */
	memory_bound?: boolean;
}
/** A hook process that died. */
export interface HookFailure {
	interpreter: string;
	prosody: string;
	/** The workload it was running (none: before the first, or during size and load). */
	workload?: string;
	phase?: "load";
	signal?: string;
	status?: number;
	/** Its last calibration batch, if any: how large, which module, the heap then. */
	last_batch?: { calls: number; module: string; peak_kib: number };
	stderr: string;
	message: string;
}
export interface HookRun {
	interpreter: string;
	lua: string;
	prosody: string;
	rounds: number;
	workloads: HookWorkload[];
	load?: Record<"ours" | "stock", { bytes: number; compile_us: number; load_us: number }>;
	failures: HookFailure[];
}

/** bench/hooks.lua's line when a workload (or the size and load measurement) starts. */
export interface HookStart {
	index?: number;
	name?: string;
	family?: string;
	pending?: number;
	roster?: number;
	phase?: "load";
}

/** "at 10000 pending invites", "at 10 roster entries", or "". */
function atSize(start: { pending?: number; roster?: number }): string {
	if (start.pending !== undefined) return ` at ${start.pending} pending invites`;
	if (start.roster !== undefined) return ` at ${start.roster} roster entries`;
	return "";
}

/** What a dead hook process means, in words. */
function describeFailure(f: Omit<HookFailure, "message">, start: HookStart | undefined): string {
	const where = `${f.interpreter}, Prosody ${f.prosody}`;
	const running = start?.name !== undefined ? `running "${start.family ?? start.name}"${atSize(start)} (${where})` : f.phase === "load" ? `measuring size and load (${where})` : `(${where}), before its first workload,`;
	const batch = f.last_batch
		? ` Its last batch: ${f.last_batch.calls} calls of the ${f.last_batch.module} module, the Lua heap at ${(f.last_batch.peak_kib / 1024).toFixed(1)} MiB after it.`
		: "";
	// A Lua error's message is the first line (a traceback follows); all of stderr is in latest.json.
	const lastError = f.stderr.trim().split("\n")[0]?.trim() ?? "";
	if (f.signal === "SIGKILL" || f.status === 137) {
		return (
			`the Lua process ${running} was killed (SIGKILL${f.signal ? "" : ", exit status 137"}) — most likely out of memory: the workload allocates per operation; ` +
			`check for a read of every pending invite or roster entry per event.${batch}`
		);
	}
	if (f.signal !== undefined) {
		return `the Lua process ${running} was killed by ${f.signal}${f.signal === "SIGSEGV" || f.signal === "SIGABRT" ? " — the interpreter crashed" : ""}.${batch}${lastError ? ` It wrote: ${lastError}` : ""}`;
	}
	return `the Lua process ${running} exited with status ${f.status}${lastError ? `: ${lastError}` : ""}.${batch}`;
}

/**
 * Runs bench/hooks.lua on one interpreter and Prosody version. When the
 * process dies, the workload it was running is reported and a new process
 * takes up the workloads after it.
 */
export function runHooks(interpreter: string, version: ProsodyVersion, rounds: number, filter: string | undefined, log: (line: string) => void): HookRun {
	const run: HookRun = { interpreter, lua: interpreter, prosody: version, rounds, workloads: [], failures: [] };
	let from = 1;
	for (;;) {
		const result = spawnSync(
			interpreter,
			[path.join(repoRoot, "bench/hooks.lua"), prosodySource(version), version, builtModuleDir, String(rounds), filter ?? "", String(from)],
			{ encoding: "utf8", maxBuffer: 1 << 28, stdio: ["ignore", "pipe", "pipe"] },
		);
		if (result.error) throw new Error(`${interpreter}: ${result.error.message}`);
		let current: HookStart | undefined;
		let lastBatch: HookFailure["last_batch"];
		let done = false;
		for (const line of result.stdout.split("\n")) {
			if (line.trim() === "") continue;
			let record: Record<string, unknown>;
			try {
				record = JSON.parse(line) as Record<string, unknown>;
			} catch {
				continue; // a line cut short by the process's death
			}
			if (record.type === "begin") {
				run.lua = record.lua as string;
			} else if (record.type === "start") {
				current = record as typeof current;
				lastBatch = undefined;
			} else if (record.type === "batch") {
				lastBatch = { calls: record.calls as number, module: record.module as string, peak_kib: record.peak_kib as number };
			} else if (record.type === "workload") {
				const { type: _type, index: _index, ...workload } = record;
				run.workloads.push(workload as unknown as HookWorkload);
				current = undefined;
			} else if (record.type === "load") {
				run.load = record.load as HookRun["load"];
				current = undefined;
			} else if (record.type === "done") {
				done = true;
			}
		}
		if (result.status === 0 && done) return run;
		const failure: Omit<HookFailure, "message"> = {
			interpreter,
			prosody: version,
			workload: current?.name,
			phase: current?.phase,
			signal: result.signal ?? undefined,
			status: result.status ?? undefined,
			last_batch: lastBatch,
			stderr: result.stderr.slice(-4000),
		};
		const message = describeFailure(failure, current);
		run.failures.push({ ...failure, message });
		log(`  hooks: ${message}`);
		process.exitCode = 1;
		// Died before its first workload or while measuring size and load: nothing after it to take up.
		if (current?.index === undefined) return run;
		from = current.index + 1;
		log(`  hooks: ${interpreter}, Prosody ${version}: going on after it, from workload ${from}`);
	}
}

