/**
 * `npm run bench`: the built module against Prosody's stock
 * mod_invites_register (loaded from the installed Prosody at run time,
 * never copied here) and against the previous version of our module (the
 * baseline, taken from git), side by side in one run.
 *
 *   1. hook cost, in identical simulated hosts on real Lua 5.4 and LuaJIT
 *      (Prosody 0.12's code), and on Lua 5.4 with Prosody 13's code
 *      (bench/hooks.ts, bench/hooks.lua); 1b: with 10, 1000 and 10000 pending
 *      invites in the (in-memory) store; 1c: with 10, 1000 and 10000 entries
 *      in the roster of the user a presence or XEP-0379 request is sent to;
 *   2. file size and load time;
 *   3. invited registrations on a real Prosody 0.12, with file, SQLite and PostgreSQL
 *      storage, at each store size: registrations per second and server
 *      CPU per registration, ours / baseline / stock; 3c: store operations
 *      per registration (an untimed run through a counting storage driver)
 *      (bench/e2e.ts);
 *   4. abuse (bench/abuse.ts): a flood of made-up <preauth/> tokens on real
 *      Prosody 0.12 and 13 while legitimate clients register: server CPU,
 *      registration latency and outcome, how the IQs were answered, ours / stock;
 *   5. scale (bench/scale.ts): Prosody 13 with 300 to 100 000 pending invites
 *      (SQLite, PostgreSQL; file storage at 3000 and 30 000): server CPU per
 *      invited registration, the longest block an idle client sees, module
 *      load, ours / stock.
 *
 * Each section's table is written by its *_report.ts. Prints the tables
 * with the machine and versions, and writes bench/results/latest.json
 * (bench/results/ is not in git: saved results stay on the machine that
 * made them). The options are in bench/options.ts, the targets and what a
 * ✗ means in bench/targets.ts, comparing with a saved run in
 * bench/compare.ts. A measured run of a real server that fails is tried
 * once more, then left out and listed, and the run exits with status 1
 * (bench/retry.ts); so does a hook process that dies (bench/hooks.ts).
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../harness/server/prosody_sources.js";
import { countStoreOperations, extractBaseline, runE2E, type E2ERound, type StoreOperations } from "./e2e.js";
import { ABUSE_LIMITS, runAbuse, type AbuseRun } from "./abuse.js";
import { abuseReport } from "./abuse_report.js";
import { Comparison, keys, Saved } from "./compare.js";
import { compareReport } from "./compare_report.js";
import { e2eReport, storeOpsReport, summarise } from "./e2e_report.js";
import { runHooks, type HookRun } from "./hooks.js";
import { hooksReport } from "./hooks_report.js";
import { machine } from "./machine.js";
import { options } from "./options.js";
import { failedRuns } from "./retry.js";
import { runScale, type ScaleRun } from "./scale.js";
import { scaleReport } from "./scale_report.js";
import { newSection } from "./tables.js";
import { TARGETS } from "./targets.js";

const { rounds, registrations, concurrency, e2eRounds, abuseSettings } = options;
// Read now: a FILE that cannot be read fails the run before it starts, not after 20 minutes.
const saved = options.compare === undefined ? undefined : new Saved(options.compare);
const compare = new Comparison(saved);
const log = (line: string) => process.stderr.write(`${line}\n`);

const info = machine();
log(`bench: ${info.cpu}, ${info.cores} cores; hook rounds ${rounds}${saved ? `; comparing with ${saved.file}` : ""}`);
const hookRuns: HookRun[] = [];
for (const [interpreter, version] of options.hooks ? ([["lua5.4", "0.12"], ["luajit", "0.12"], ["lua5.4", "13"]] as const) : []) {
	log(`  hooks: ${interpreter}, Prosody ${version}${options.hookFilter ? `, workloads with "${options.hookFilter}"` : ""}`);
	hookRuns.push(runHooks(interpreter, version, rounds, options.hookFilter, log));
}

let e2e: E2ERound[] = [];
let storeOps: StoreOperations[] = [];
let baseline: { rev: string; commit: string; bytes: number } | undefined;
if (options.e2e) {
	const extracted = options.baseline === undefined ? undefined : extractBaseline(options.baseline);
	if (extracted) baseline = { rev: options.baseline!, commit: extracted.commit, bytes: extracted.bytes };
	log(
		`  e2e: Prosody 0.12, ${options.pending.join(" and ")} pending invites, ${registrations} registrations per run, concurrency ${concurrency}, ${e2eRounds} rounds` +
			(extracted ? `; baseline ${extracted.commit.slice(0, 10)} (${options.baseline})` : ""),
	);
	try {
		const e2eOptions = { version: "0.12" as const, storages: options.storages, pending: options.pending, rounds: e2eRounds, registrations, concurrency, baselineDir: extracted?.dir };
		e2e = await runE2E(e2eOptions, log);
		if (options.storeOpsRegistrations > 0) {
			log(`  store operations: ${options.storeOpsRegistrations} registrations one at a time, ${options.pending[0]} pending, each module and storage`);
			storeOps = await countStoreOperations(e2eOptions, options.pending[0], options.storeOpsRegistrations);
		}
	} finally {
		extracted?.remove();
	}
}

let abuse: AbuseRun[] = [];
if (options.abuse) {
	log(
		`  abuse: Prosody ${abuseSettings.versions.join(" and ")}, file storage, ${abuseSettings.pending} pending invites, ` +
			`${abuseSettings.iqs} made-up tokens, ${abuseSettings.window} in flight, at most ${abuseSettings.seconds} s per flood`,
	);
	const earlier = options.abuseOurs === undefined ? undefined : extractBaseline(options.abuseOurs);
	if (earlier) log(`  abuse: ours is ${earlier.commit.slice(0, 10)} (${options.abuseOurs}), not dist-lua/`);
	try {
		abuse = await runAbuse({ ...abuseSettings, oursDir: earlier?.dir }, log);
	} finally {
		earlier?.remove();
	}
}

let scale: ScaleRun[] = [];
if (options.scale) {
	const { sizes, registrations: scaleRegistrations } = options.scaleSettings;
	log(
		`  scale: Prosody 13, SQLite ${sizes.sqlite.join("/")}, PostgreSQL ${sizes.postgres.join("/")} and file ${sizes.internal.join("/")} pending invites, ${scaleRegistrations} registrations per run and module`,
	);
	scale = await runScale({ version: "13", ...options.scaleSettings }, log);
}

const out: string[] = [];
out.push(`Machine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB; ${info.kernel}; Node ${info.node}`);
out.push(`Lua: ${info.lua.join("; ")}. Prosody: ${info.prosody["0.12"]} and ${info.prosody["13"]} (Debian's packages, harness/server/prosody_sources.ts).`);
out.push(`Ours: dist-lua/mod_invites_register.lua. Stock: mod_invites_register.lua of the same Prosody.`);
if (saved) {
	const m = saved.machine;
	out.push(
		`Saved: ${saved.file}${saved.date ? `, run ${saved.date}` : ""}${m.cpu ? ` on ${String(m.cpu)}, ${String(m.cores)} cores` : ""}. ` +
			`now/saved: ours now ÷ ours saved; stock now/saved: the same for the stock module (the machine's drift). ` +
			`✗: ours' now/saved above the row's threshold, also after dividing by stock's (hooks, load ${TARGETS.compare.hook.toFixed(2)}; ` +
			`server CPU per registration ${TARGETS.compare.e2e_cpu.toFixed(2)}; a flood's server CPU ${TARGETS.compare.abuse_cpu.toFixed(2)} and +${TARGETS.compare.abuse_cpu_min_s} s).`,
	);
	if (m.cpu !== undefined && (m.cpu !== info.cpu || m.cores !== info.cores)) {
		out.push(`  Warning: saved on another machine (${String(m.cpu)}, ${String(m.cores)} cores): now/saved compares machines as much as code.`);
	}
}
out.push("");
const e2eSummary = summarise(e2e, registrations);
const sections = [
	...hooksReport(hookRuns, rounds, compare),
	e2eReport(e2eSummary, { prosody: info.prosody["0.12"], registrations, concurrency, rounds: e2eRounds, baseline }, compare),
	storeOpsReport(storeOps, options.pending[0]),
	scaleReport(scale, info.prosody["13"]),
	abuseReport(
		abuse,
		saved
			? {
					headers: compare.headers.map((h) => `CPU ${h}`),
					cells: (ours, stock) =>
						compare.cells(
							"abuse",
							keys.abuse(ours.prosody, ours.attacker, ours.address),
							`${ours.prosody}, ${ours.attacker} from ${ours.address}`,
							// A flood's CPU may be 0 (the idle rate subtracted): as in the saved file, at least 1 ms.
							{ ours: Math.max(ours.server_cpu_s, 1e-3), stock: Math.max(stock?.server_cpu_s ?? NaN, 1e-3) },
							TARGETS.compare.abuse_cpu,
							TARGETS.compare.abuse_cpu_min_s,
						),
				}
			: undefined,
	),
	saved
		? compareReport(saved, {
				settings: {
					rounds: hookRuns.length > 0 ? rounds : undefined,
					registrations: e2e.length > 0 ? registrations : undefined,
					concurrency: e2e.length > 0 ? concurrency : undefined,
					abuse: abuse.length > 0 ? { iqs: abuseSettings.iqs, pending: abuseSettings.pending, window: abuseSettings.window, seconds: abuseSettings.seconds } : undefined,
				},
				sections: { hooks: hookRuns.length > 0, load: hookRuns.some((r) => r.load !== undefined), e2e: e2eSummary.length > 0, abuse: abuse.length > 0 },
				hookFilter: options.hookFilter,
			})
		: [],
	failedRuns.length === 0 ? [] : [`Runs that failed twice and are left out of the tables above (${failedRuns.length}):`, ...failedRuns.map((f) => `  ✗ ${f.what}: ${f.error}`)],
];
for (const lines of sections.filter((s) => s.length > 0)) {
	newSection(out);
	out.push(...lines);
}
console.log(out.join("\n"));

const resultsDir = path.join(repoRoot, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const file = path.join(resultsDir, "latest.json");
writeFileSync(
	file,
	JSON.stringify(
		{
			machine: info,
			targets: TARGETS,
			settings: { rounds, hook_filter: options.hookFilter ?? null, registrations, concurrency, e2e_rounds: e2eRounds, storages: options.storages, pending: options.pending, baseline: baseline ?? null },
			hooks: hookRuns,
			e2e: { runs: e2e, summary: e2eSummary, store_operations: storeOps },
			failed_runs: failedRuns,
			abuse: { settings: { ...abuseSettings, limits: ABUSE_LIMITS }, targets: TARGETS.abuse, runs: abuse },
			scale: { targets: TARGETS.scale, runs: scale },
			compare: saved ? { file: saved.file, saved_date: saved.date ?? null, regressions: saved.regressions } : null,
		},
		null,
		"\t",
	) + "\n",
);
log(`\nResults: ${path.relative(process.cwd(), file)}`);
if (options.saveBaseline) {
	const baselineFile = path.join(resultsDir, "baseline.json");
	copyFileSync(file, baselineFile);
	log(`Saved for --compare: ${path.relative(process.cwd(), baselineFile)}`);
}
const hookFailures = hookRuns.flatMap((run) => run.failures);
if (hookFailures.length > 0) log(`${hookFailures.length} hook process(es) did not finish: see "Hook workloads that did not finish" above.`);
if (failedRuns.length > 0) {
	log(`${failedRuns.length} measured run(s) failed twice: see "Runs that failed twice" above.`);
	process.exitCode = 1;
}
