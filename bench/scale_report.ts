/**
 * What `npm run bench` prints for the scale runs of bench/scale.ts: table 5,
 * the medians over the rounds of each storage and size, marked against
 * TARGETS.scale (SQL storage only: with file storage every operation of
 * mod_invites parses every pending invite, for both modules).
 */
import { scaleMedian, type ScaleRun } from "./scale.js";
import { storageLabel, table } from "./tables.js";
import { TARGETS } from "./targets.js";

export function scaleReport(scale: ScaleRun[], prosody: string): string[] {
	if (scale.length === 0) return [];
	const { cpu_vs_stock, longest_block_ms, load_cpu_ms } = TARGETS.scale;
	const pairs = [...new Set(scale.map((r) => `${r.storage} ${r.pending}`))];
	const measured = pairs.flatMap((key) => {
		const [storage, pending] = key.split(" ");
		const [ours, stock] = [scaleMedian(scale, "built", storage, Number(pending)), scaleMedian(scale, "stock", storage, Number(pending))];
		return ours !== undefined && stock !== undefined ? [{ storage, pending, ours, stock }] : []; // a size whose runs all failed is listed with the failures
	});
	return [
		`5. Scale on Prosody ${prosody}: invited registrations one at a time with N pending invites written straight into the store; medians over the rounds (the longest blocks' maximum in brackets). ` +
			`Targets: ours/stock ≤ ${cpu_vs_stock.toFixed(2)}; ours' longest block ≤ ${longest_block_ms} ms; ours' module load ≤ ${load_cpu_ms} ms of CPU. ` +
			"Longest block: the longest ping round trip of a signed-in, idle client while registrations run. Module load: the server CPU of module:reload (as at every start); " +
			"first load: ours' first load of this version (file storage: every pending invite read once; SQL storage: the takeover page by page only starts). After load (SQL storage): ours' first round over the stored tokens after a load, which learns the open invites made before " +
			"(its duration, the server CPU meanwhile, its longest page); the registrations are measured after it. The server's data on tmpfs (/dev/shm) where there is one, so that a SQLite commit's fsync does not make the disk's stalls the longest block; PostgreSQL: a throwaway cluster of Debian's postgresql on loopback (fsync off).",
		"",
		table(
			["storage", "pending", "rounds", "ours CPU", "stock CPU", "ours/stock", "longest block, ours", "stock", "module load, ours", "stock", "first load, ours", "after load, ours"],
			measured.map(({ storage, pending, ours, stock }) => {
				const ratio = ours.server_cpu_ms / stock.server_cpu_ms;
				const sql = storage !== "internal";
				return [
					storageLabel(storage),
					pending,
					String(ours.rounds),
					`${ours.server_cpu_ms.toFixed(2)} ms`,
					`${stock.server_cpu_ms.toFixed(2)} ms`,
					`${ratio.toFixed(2)}${sql && ratio > cpu_vs_stock ? " ✗" : ""}`,
					`${ours.longest_block_ms.toFixed(0)} ms (max ${ours.longest_block_max_ms.toFixed(0)})${sql && ours.longest_block_ms > longest_block_ms ? " ✗" : ""}`,
					`${stock.longest_block_ms.toFixed(0)} ms (max ${stock.longest_block_max_ms.toFixed(0)})`,
					`${ours.load_cpu_ms.toFixed(0)} ms${ours.load_cpu_ms > load_cpu_ms ? " ✗" : ""}`,
					`${stock.load_cpu_ms.toFixed(0)} ms`,
					`${(ours.first_load_cpu_ms ?? 0).toFixed(0)} ms`,
					ours.catch_up_s !== undefined
						? `${ours.catch_up_s.toFixed(1)} s, ${(ours.catch_up_cpu_ms ?? 0).toFixed(0)} ms CPU, page ≤ ${(ours.catch_up_longest_page_ms ?? 0).toFixed(1)} ms${(ours.catch_up_longest_page_ms ?? 0) > longest_block_ms ? " ✗" : ""}`
						: "",
				];
			}),
		),
		"",
		"   CPU from /proc has a 10 ms tick: per registration that is 10 ms / registrations (0.25 ms at 40). With file storage every operation of mod_invites parses every pending invite, for both modules: use SQL storage above a few thousand.",
	];
}
