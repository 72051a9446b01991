/**
 * A network namespace of its own (`unshare --net`; as a user namespace's
 * root when not root), with only loopback in it, for the attackers that
 * rotate addresses and domains (bench/abuse.ts, spec/e2e/rotating_budgets):
 *  - the rotating attacker's IPv6 network (ROTATING_NETWORK) is routed to
 *    lo, and binding to addresses not on an interface is allowed, so that
 *    it can connect from any address of its /64;
 *  - the s2s attacker and the server under test both take port 5269 (the
 *    port DNS without SRV records gives), on 127.0.0.2 and 127.0.0.1;
 *  - nothing else on the machine sees them, or is seen by them.
 * The child runs a script with its input in a file and writes its result
 * to another; its output lines come back as they are printed.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { repoRoot } from "./prosody_sources.js";

/** The IPv6 network routed to lo in the namespace: a rotating attacker takes any of its addresses. */
export const ROTATING_NETWORK = "fd00:1:2:3::/64";

/** A random address of ROTATING_NETWORK. */
export function rotatingAddress(): string {
	const host = Array.from({ length: 4 }, () => randomBytes(2).toString("hex"));
	return ["fd00", "1", "2", "3", ...host].join(":");
}

const MARK = "BENCH_NETNS";

/** Whether this process runs inside the namespace runInNetworkNamespace made. */
export function inNetworkNamespace(): boolean {
	return process.env[MARK] === "1";
}

const namespace = () => (process.getuid?.() === 0 ? ["--net"] : ["--user", "--map-root-user", "--net"]);
const SETUP = `ip link set lo up && ip -6 route add local ${ROTATING_NETWORK} dev lo && sysctl -qw net.ipv6.ip_nonlocal_bind=1`;

/** Why no such namespace can be made here (no unshare, no iproute2, user namespaces disabled), or undefined when one can. */
export function networkNamespaceProblem(): string | undefined {
	const tried = spawnSync("unshare", [...namespace(), "sh", "-c", SETUP], { encoding: "utf8" });
	if (tried.error) return tried.error.message;
	return tried.status === 0 ? undefined : `unshare ${namespace().join(" ")}: ${(tried.stderr || `exit ${tried.status}`).trim()}`;
}

/**
 * Runs `script` (a TypeScript file, relative to the repository) under tsx
 * in a new network namespace as above; the script reads
 * its input from the file in BENCH_NETNS_INPUT and writes its result to
 * BENCH_NETNS_OUTPUT. Resolves with that result; rejects when the
 * namespace could not be made, the script failed, or it ran past
 * `timeoutMs` (then it is killed with everything it started).
 */
export async function runInNetworkNamespace<I, O>(script: string, input: I, progress: (line: string) => void, timeoutMs?: number): Promise<O> {
	const dir = mkdtempSync(path.join(os.tmpdir(), "bench-netns-"));
	const inputFile = path.join(dir, "input.json");
	const outputFile = path.join(dir, "output.json");
	writeFileSync(inputFile, JSON.stringify(input));
	try {
		const child = spawn("unshare", [...namespace(), "sh", "-c", `${SETUP} && exec "$0" "$@"`, path.join(repoRoot, "node_modules/.bin/tsx"), path.join(repoRoot, script)], {
			env: { ...process.env, [MARK]: "1", BENCH_NETNS_INPUT: inputFile, BENCH_NETNS_OUTPUT: outputFile },
			stdio: ["ignore", "pipe", "pipe"],
			// A process group of its own: on a timeout, the script, its servers and their children all go.
			detached: true,
		});
		const timer =
			timeoutMs === undefined
				? undefined
				: setTimeout(() => {
						progress(`${script}: no result within ${timeoutMs} ms, stopping it`);
						if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
					}, timeoutMs);
		const lines = (stream: NodeJS.ReadableStream) => readline.createInterface({ input: stream }).on("line", progress);
		lines(child.stdout);
		lines(child.stderr);
		const code = await new Promise<number | null>((resolve, reject) => {
			child.once("error", reject);
			child.once("close", resolve);
		}).finally(() => clearTimeout(timer));
		if (code !== 0) throw new Error(`${script} in a network namespace (unshare ${namespace().join(" ")}) exited with ${code}`);
		return JSON.parse(readFileSync(outputFile, "utf8")) as O;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

/** In the child: its input. */
export function namespaceInput<I>(): I {
	return JSON.parse(readFileSync(process.env.BENCH_NETNS_INPUT ?? "", "utf8")) as I;
}

/** In the child: hands back its result. */
export function namespaceOutput<O>(output: O): void {
	writeFileSync(process.env.BENCH_NETNS_OUTPUT ?? "", JSON.stringify(output));
}
