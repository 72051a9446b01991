/** How `npm run bench` writes its tables: Markdown, figures aligned right. */

/** A Markdown table: the first `left` columns aligned left, the others right. */
export function table(headers: string[], rows: string[][], left = 1): string {
	const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
	const line = (cells: string[]) => "| " + cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") + " |";
	return [line(headers), "|" + widths.map((w, i) => (i < left ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|") + "|", ...rows.map(line)].join("\n");
}

export function median(values: number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** How a storage is named in the tables. */
export function storageLabel(storage: string): string {
	return storage === "internal" ? "file (internal)" : storage === "postgres" ? "PostgreSQL" : "SQLite";
}

/** A ✗ after a cell whose figure misses its target. */
export const miss = (missed: boolean) => (missed ? " ✗" : "");

/** Starts a new section: one empty line between two. */
export function newSection(out: string[]): void {
	if (out.length > 0 && out[out.length - 1] !== "") out.push("");
}
