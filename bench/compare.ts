/**
 * `npm run bench -- --compare FILE`: ours now against ours in a saved
 * result (a bench/results/latest.json of an earlier run, copied, or written
 * by --save-baseline). Save one before a change and compare after it:
 *
 *   npm run bench -- --save-baseline          (or: cp bench/results/latest.json SOMEWHERE)
 *   npm run bench -- --compare bench/results/baseline.json
 *
 * (not to be confused with --baseline REV: that runs an earlier commit's
 * module side by side, end to end, in the same run). Every row measured now
 * and present in FILE — hook workloads (1, 1b, 1c), size and load (2),
 * server CPU per registration (3a), the flood's server CPU (4a) — gets a
 * "now/saved" column (ours now ÷ ours saved) and "stock now/saved" (the
 * same for the stock module: the machine's drift between the two runs, as
 * the stock module did not change). Registrations per second (3b) and the
 * abuse latencies are not compared: the clients share the machine.
 *
 * A row is marked ✗ (regressed) when ours' now/saved is above the row's
 * threshold (TARGETS.compare) and ours' now/saved ÷ stock's now/saved is
 * too: a machine that is slower today across the board is not a regression.
 *
 * Rows are matched by name: hook workloads by interpreter, Prosody version
 * and workload name; size and load by what and interpreter; end to end by
 * storage and pending count; abuse by Prosody version, attacker and
 * address. A row measured now but not in the saved file says "not saved";
 * the saved rows not measured now are listed after the tables. The saved
 * file may be older than the current format: what is missing or of another
 * shape is treated as not saved, never as an error.
 */
import { readFileSync } from "node:fs";
import { TARGETS } from "./targets.js";

/** ours and stock of one row: ns per call, µs, bytes, ms or s. */
export interface Pair {
	ours: number;
	stock: number;
}

export type Section = "hooks" | "load" | "e2e" | "abuse";

export interface Regression {
	section: Section;
	row: string;
	now_saved: number;
	stock_now_saved?: number;
}

/** A row's name in the lists: its group (interpreter and Prosody, say) and its own name. */
export interface RowName {
	group: string;
	name: string;
}

interface SavedSection {
	rows: Map<string, { label: RowName; pair: Pair }>;
	/** Keys compared (looked up) this run. */
	used: Set<string>;
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export const keys = {
	hook: (lua: string, prosody: string, workload: string) => `${lua}|${prosody}|${workload}`,
	load: (what: "bytes" | "compile" | "load", lua: string) => (what === "bytes" ? "bytes" : `${what}|${lua}`),
	e2e: (storage: string, pending: number) => `${storage}|${pending}`,
	abuse: (prosody: string, attacker: string, address: string) => `${prosody}|${attacker}|${address}`,
};

export class Saved {
	readonly file: string;
	readonly date?: string;
	readonly machine: Record<string, unknown>;
	readonly settings: Record<string, unknown>;
	readonly abuseSettings: Record<string, unknown>;
	private readonly sections: Record<Section, SavedSection>;
	readonly regressions: Regression[] = [];

	/** Reads a saved result; throws only when the file cannot be read or is not a JSON object. */
	constructor(file: string) {
		let data: Record<string, unknown>;
		try {
			data = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
		} catch (err) {
			throw new Error(`--compare ${file}: ${(err as Error).message}`);
		}
		if (data === null || typeof data !== "object" || Array.isArray(data)) throw new Error(`--compare ${file}: not a saved result (a JSON object, as bench/results/latest.json)`);
		this.file = file;
		this.machine = obj(data.machine);
		this.date = str(this.machine.date);
		this.settings = obj(data.settings);
		this.abuseSettings = obj(obj(data.abuse).settings);
		const section = (): SavedSection => ({ rows: new Map(), used: new Set() });
		this.sections = { hooks: section(), load: section(), e2e: section(), abuse: section() };
		const add = (s: Section, key: string, label: RowName, ours: unknown, stock: unknown) => {
			const o = num(ours);
			const st = num(stock);
			if (o !== undefined && st !== undefined) this.sections[s].rows.set(key, { label, pair: { ours: o, stock: st } });
		};

		for (const run of arr(data.hooks).map(obj)) {
			const lua = str(run.lua);
			const prosody = str(run.prosody);
			if (lua === undefined || prosody === undefined) continue;
			for (const w of arr(run.workloads).map(obj)) {
				const name = str(w.name);
				if (name !== undefined) add("hooks", keys.hook(lua, prosody, name), { group: `${lua}, ${prosody}`, name }, w.ours_ns, w.stock_ns);
			}
			const load = obj(run.load);
			const ours = obj(load.ours);
			const stock = obj(load.stock);
			if (prosody === "0.12") {
				add("load", keys.load("bytes", lua), { group: "", name: "bytes" }, ours.bytes, stock.bytes);
				add("load", keys.load("compile", lua), { group: "", name: `compile (loadfile), ${lua}` }, ours.compile_us, stock.compile_us);
				add("load", keys.load("load", lua), { group: "", name: `load as a module, ${lua}` }, ours.load_us, stock.load_us);
			}
		}
		for (const r of arr(obj(data.e2e).summary).map(obj)) {
			const storage = str(r.storage);
			const pending = num(r.pending);
			if (storage !== undefined && pending !== undefined) add("e2e", keys.e2e(storage, pending), { group: "", name: `${storage === "internal" ? "file (internal)" : storage === "postgres" ? "PostgreSQL" : "SQLite"}, ${pending} pending` }, r.ours_cpu_ms, r.stock_cpu_ms);
		}
		const abuseRuns = arr(obj(data.abuse).runs).map(obj);
		for (const r of abuseRuns.filter((r) => r.module === "built")) {
			const prosody = str(r.prosody);
			const attacker = str(r.attacker);
			const address = str(r.address);
			if (prosody === undefined || attacker === undefined || address === undefined) continue;
			const stock = abuseRuns.find((s) => s.module === "stock" && s.prosody === prosody && s.attacker === attacker && s.address === address);
			// A flood's CPU may be 0 (idle rate subtracted): kept, as a tiny positive number.
			const cpu = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? Math.max(v, 1e-3) : undefined);
			add("abuse", keys.abuse(prosody, attacker, address), { group: `Prosody ${prosody}`, name: `${attacker} from ${address}` }, cpu(r.server_cpu_s), cpu(stock?.server_cpu_s));
		}
	}

	/** How many rows the file holds of a section. */
	count(section: Section): number {
		return this.sections[section].rows.size;
	}

	/**
	 * The two cells of a row: ours now/saved (✗ when regressed beyond
	 * `threshold`; no threshold: never marked) and stock now/saved.
	 */
	cells(section: Section, key: string, label: string, now: Pair, threshold?: number, minDifference = 0): [string, string] {
		const saved = this.sections[section].rows.get(key);
		this.sections[section].used.add(key);
		if (saved === undefined) return ["not saved", ""];
		const ratio = now.ours / saved.pair.ours;
		const stockRatio = now.stock / saved.pair.stock;
		const regressed = threshold !== undefined && ratio > threshold && ratio / stockRatio > threshold && now.ours - saved.pair.ours >= minDifference;
		if (regressed) this.regressions.push({ section, row: label, now_saved: ratio, stock_now_saved: stockRatio });
		return [`${ratio.toFixed(2)}${regressed ? " ✗" : ""}`, stockRatio.toFixed(2)];
	}

	/** The saved rows of a section that no table of this run looked up. */
	notMeasured(section: Section): RowName[] {
		const s = this.sections[section];
		return [...s.rows].filter(([key]) => !s.used.has(key)).map(([, row]) => row.label);
	}
}

/** Thresholds, for the heading lines. */
export const COMPARE = TARGETS.compare;

/** The now/saved columns of a table: none when not comparing. */
export class Comparison {
	constructor(readonly saved?: Saved) {}

	get headers(): string[] {
		return this.saved ? ["now/saved", "stock now/saved"] : [];
	}

	cells(section: Section, key: string, label: string, now: Pair, threshold?: number, minDifference?: number): string[] {
		return this.saved ? this.saved.cells(section, key, label, now, threshold, minDifference) : [];
	}
}
