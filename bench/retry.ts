/**
 * A measured run that fails (a client timing out on a loaded machine, a
 * server that did not start) is tried once more; if it fails again, it is
 * reported and left out, and the benchmark goes on with the others, so
 * that the tables show what was measured; the run then exits with status 1.
 * To see it: BENCH_FAIL_RUN=TEXT makes every run whose label contains TEXT
 * fail, e.g. BENCH_FAIL_RUN='sqlite 300 pending round 1 stock'.
 */
export interface FailedRun {
	what: string;
	error: string;
}

export const failedRuns: FailedRun[] = [];

export async function withRetry<T>(what: string, run: () => Promise<T>, progress: (line: string) => void): Promise<T | undefined> {
	for (let attempt = 1; attempt <= 2; attempt++) {
		try {
			const injected = process.env.BENCH_FAIL_RUN;
			if (injected !== undefined && injected !== "" && what.includes(injected)) throw new Error("TimeoutError: injected by BENCH_FAIL_RUN");
			return await run();
		} catch (error) {
			const message = error instanceof Error ? `${error.name}: ${error.message.split("\n")[0]}` : String(error);
			progress(`  ✗ ${what} failed (${attempt === 1 ? "trying once more" : "left out"}): ${message}`);
			if (attempt === 2) failedRuns.push({ what, error: message });
		}
	}
	return undefined;
}
