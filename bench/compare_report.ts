/**
 * What `npm run bench -- --compare FILE` prints after the tables
 * (bench/compare.ts): the settings the saved run had that differ, the
 * rows that regressed, and the saved rows this run did not measure.
 */
import type { Saved, Section } from "./compare.js";

export interface MeasuredNow {
	/** This run's settings, to tell which differ from the saved run's. */
	settings: { rounds?: number; registrations?: number; concurrency?: number; abuse?: Record<string, number> };
	/** Which sections this run measured. */
	sections: Record<Section, boolean>;
	/** --hook-filter, if given: saved hook rows without it in their name were not meant to be measured. */
	hookFilter?: string;
}

export function compareReport(saved: Saved, now: MeasuredNow): string[] {
	const out = [`Compared with ${saved.file}:`];
	const differences: string[] = [];
	const s = saved.settings;
	const { rounds, registrations, concurrency, abuse } = now.settings;
	if (rounds !== undefined && typeof s.rounds === "number" && s.rounds !== rounds) differences.push(`hook rounds ${s.rounds} (now ${rounds})`);
	if (registrations !== undefined && typeof s.registrations === "number" && s.registrations !== registrations) differences.push(`${s.registrations} registrations per run (now ${registrations})`);
	if (concurrency !== undefined && typeof s.concurrency === "number" && s.concurrency !== concurrency) differences.push(`concurrency ${s.concurrency} (now ${concurrency})`);
	for (const [name, value] of Object.entries(abuse ?? {})) {
		const a = saved.abuseSettings;
		if (typeof a[name] === "number" && a[name] !== value) differences.push(`abuse ${name} ${String(a[name])} (now ${value})`);
	}
	if (differences.length > 0) out.push(`  Saved with other settings: ${differences.join("; ")}.`);
	if (rounds !== undefined && Math.min(rounds, typeof s.rounds === "number" ? s.rounds : rounds) < 5) {
		out.push("  Hook rounds below 5 (now or saved): the hook rows' now/saved is mostly noise (an A/A run at --rounds 2 marked 1–3 rows of 60).");
	}
	out.push(
		saved.regressions.length === 0
			? "  No row regressed beyond its threshold."
			: `  Regressed (✗): ${saved.regressions.map((r) => `${r.row} ${r.now_saved.toFixed(2)}× (stock ${r.stock_now_saved?.toFixed(2) ?? "?"}×)`).join("; ")}.`,
	);
	const names: Record<Section, string> = { hooks: "hook workloads", load: "size and load", e2e: "end to end", abuse: "abuse" };
	const filter = now.hookFilter;
	for (const section of ["hooks", "load", "e2e", "abuse"] as const) {
		let missing = saved.notMeasured(section);
		if (missing.length === 0) continue;
		if (!now.sections[section]) {
			out.push(`  Saved, not measured now: ${names[section]} (${missing.length} rows; this run skipped them).`);
			continue;
		}
		if (section === "hooks" && filter !== undefined) {
			const filtered = missing.filter((row) => !row.name.includes(filter));
			if (filtered.length > 0) out.push(`  Saved, not measured now: ${filtered.length} hook workload rows without "${filter}" in their name (--hook-filter).`);
			missing = missing.filter((row) => row.name.includes(filter));
			if (missing.length === 0) continue;
		}
		out.push(`  Saved, not measured now (${names[section]}):`);
		for (const group of [...new Set(missing.map((row) => row.group))]) {
			const rows = missing.filter((row) => row.group === group).map((row) => row.name);
			out.push(`    ${group === "" ? "" : `${group}: `}${rows.join("; ")}`);
		}
	}
	const unsaved = (Object.keys(names) as Section[]).filter((section) => now.sections[section] && saved.count(section) === 0);
	if (unsaved.length > 0) out.push(`  Not in the saved file at all: ${unsaved.map((section) => names[section]).join(", ")} ("not saved" in the tables).`);
	return out;
}
