/**
 * The options of `npm run bench`, read and checked before anything runs
 * (a wrong value fails at once, not after 20 minutes):
 *
 *   npm run bench -- --rounds 15 --registrations 300 --concurrency 20 --e2e-rounds 5
 *
 * Options (defaults in brackets):
 *   --rounds N           hook rounds [15]
 *   --skip-hooks         no hook and size/load measurements
 *   --hook-filter TEXT   only the hook workloads whose name contains TEXT (e.g. "roster")
 *   --skip-e2e           no end-to-end measurements
 *   --storages LIST      end to end: storages, internal, sqlite and/or postgres [internal,sqlite,postgres]
 *   --pending LIST       end to end: pending account invites in the store when the
 *                        timed registrations start, one set of runs each [300,3000];
 *                        the registrations use invites among them, so the store
 *                        shrinks by --registrations during a run
 *   --registrations N    end to end: registrations per run, each with its own invite [300]
 *   --concurrency N      end to end: clients registering at a time [20]
 *   --e2e-rounds N       end to end: runs per module, storage and store size [5]
 *   --store-ops-registrations N
 *                        end to end: registrations (one at a time, at the first --pending
 *                        size) in the untimed run that counts store operations per
 *                        registration (3c; 0: none) [20]
 *   --baseline REV       end to end: the baseline is `git show REV:dist-lua/mod_invites_register.lua`,
 *                        run from a temporary plugin folder ["none": no baseline] [7d065e7]
 *   --skip-abuse         no abuse measurements
 *   --skip-scale         no scale measurements (5)
 *   --scale-registrations N  scale: registrations per run and module, one at a time [40]
 *   --scale-rounds N     scale: runs per module and size with SQL storage, medians reported [3]; file storage runs once
 *   --scale-sqlite LIST  scale: pending invites with SQLite [300,3000,30000,100000]
 *   --scale-file LIST    scale: pending invites with file storage [3000,30000]
 *   --scale-postgres LIST scale: pending invites with PostgreSQL [300,3000,30000,100000]
 *   --abuse-only         only the abuse measurements (no hooks, size/load or end to end)
 *   --abuse-iqs N        abuse: <preauth/> IQs the attacker sends at most [2000]
 *   --abuse-pending N    abuse: pending account invites in the (file) store [1000]
 *   --abuse-window N     abuse: the attacker's IQs in flight per connection [50]
 *   --abuse-seconds N    abuse: the flood's time bound [60]
 *   --abuse-versions L   abuse: Prosody versions, 0.12 and/or 13 [0.12,13]
 *   --abuse-ours REV     abuse: "ours" is `git show REV:dist-lua/mod_invites_register.lua`
 *                        (an earlier build, for a table before a change; with
 *                        --save-baseline, then --compare in a run of the current one)
 *   --compare FILE       also compare ours now with ours in FILE, a result saved by an
 *                        earlier run (any path; a relative one from where npm was run);
 *                        see bench/compare.ts
 *   --save-baseline      also write this run's result to bench/results/baseline.json
 *                        (after the run: --compare of that file in the same run
 *                        compares with the one saved before)
 */
import path from "node:path";
import { parseArgs } from "node:util";
import type { ProsodyVersion } from "../harness/server/prosody_sources.js";
import type { Storage } from "../harness/server/prosody_server.js";

const { values } = parseArgs({
	options: {
		rounds: { type: "string", default: "15" },
		registrations: { type: "string", default: "300" },
		concurrency: { type: "string", default: "20" },
		"e2e-rounds": { type: "string", default: "5" },
		"skip-e2e": { type: "boolean", default: false },
		"store-ops-registrations": { type: "string", default: "20" },
		"skip-hooks": { type: "boolean", default: false },
		"hook-filter": { type: "string" },
		storages: { type: "string", default: "internal,sqlite,postgres" },
		pending: { type: "string", default: "300,3000" },
		baseline: { type: "string", default: "7d065e7" },
		"skip-abuse": { type: "boolean", default: false },
		"skip-scale": { type: "boolean", default: false },
		"scale-registrations": { type: "string", default: "40" },
		"scale-rounds": { type: "string", default: "3" },
		"scale-sqlite": { type: "string", default: "300,3000,30000,100000" },
		"scale-file": { type: "string", default: "3000,30000" },
		"scale-postgres": { type: "string", default: "300,3000,30000,100000" },
		"abuse-only": { type: "boolean", default: false },
		"abuse-iqs": { type: "string", default: "2000" },
		"abuse-pending": { type: "string", default: "1000" },
		"abuse-window": { type: "string", default: "50" },
		"abuse-seconds": { type: "string", default: "60" },
		"abuse-versions": { type: "string", default: "0.12,13" },
		"abuse-ours": { type: "string" },
		compare: { type: "string" },
		"save-baseline": { type: "boolean", default: false },
	},
});

/** A positive whole number, or the option's name and value in the error. */
function positive(name: string, value: number): number {
	if (!Number.isInteger(value) || value < 1) throw new Error(`--${name}: a positive whole number, not ${value}`);
	return value;
}

const list = (text: string) => text.split(",").filter((x) => x !== "").map(Number);

const abuseOnly = values["abuse-only"];
if (abuseOnly && values["skip-abuse"]) throw new Error("--abuse-only and --skip-abuse: nothing left to run");

const registrations = positive("registrations", Number(values.registrations));
const pending = values.pending.split(",").map(Number);
for (const n of values["skip-e2e"] || abuseOnly ? [] : pending) {
	if (!Number.isInteger(n) || n < registrations) throw new Error(`--pending: whole numbers, each at least --registrations (${registrations}); got ${values.pending}`);
}
const storages = values.storages.split(",") as Storage[];
for (const storage of storages) {
	if (storage !== "internal" && storage !== "sqlite" && storage !== "postgres") throw new Error(`--storages: internal, sqlite and/or postgres, not ${storage}`);
}
const abuseVersions = values["abuse-versions"].split(",") as ProsodyVersion[];
for (const version of abuseVersions) {
	if (version !== "0.12" && version !== "13") throw new Error(`--abuse-versions: 0.12 and/or 13, not ${version}`);
}

export const options = {
	/** Hook rounds (1, 1b, 1c). */
	rounds: positive("rounds", Number(values.rounds)),
	hookFilter: values["hook-filter"],
	hooks: !values["skip-hooks"] && !abuseOnly,
	e2e: !values["skip-e2e"] && !abuseOnly,
	/** End to end (3): registrations per run, clients at a time, runs per module, pending invites, storages. */
	registrations,
	concurrency: positive("concurrency", Number(values.concurrency)),
	e2eRounds: positive("e2e-rounds", Number(values["e2e-rounds"])),
	pending,
	storages,
	storeOpsRegistrations: Number(values["store-ops-registrations"]),
	/** The baseline's revision, or undefined for none. */
	baseline: values.baseline === "none" ? undefined : values.baseline,
	abuse: !values["skip-abuse"],
	abuseSettings: {
		iqs: positive("abuse-iqs", Number(values["abuse-iqs"])),
		pending: positive("abuse-pending", Number(values["abuse-pending"])),
		window: positive("abuse-window", Number(values["abuse-window"])),
		seconds: positive("abuse-seconds", Number(values["abuse-seconds"])),
		versions: abuseVersions,
	},
	abuseOurs: values["abuse-ours"],
	scale: !values["skip-scale"] && !abuseOnly,
	scaleSettings: {
		sizes: { sqlite: list(values["scale-sqlite"]), postgres: list(values["scale-postgres"]), internal: list(values["scale-file"]) },
		registrations: Number(values["scale-registrations"]),
		rounds: Number(values["scale-rounds"]),
	},
	/** --compare FILE: a relative FILE is taken from where npm was run (INIT_CWD), not the repository root npm runs the script in. */
	compare: values.compare === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? process.cwd(), values.compare),
	saveBaseline: values["save-baseline"],
};
