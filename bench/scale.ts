/**
 * Scale: invited registrations on a real Prosody 13 with many pending
 * invites (written straight into mod_invites' store, as fillInviteStore
 * does), ours against the stock module:
 *  - server CPU per invited registration;
 *  - the longest time the server did not answer a signed-in, otherwise
 *    idle client that pings it without pause (XEP-0199) while the
 *    registrations run: the longest single blocking event, as a user sees it;
 *  - ours on SQL storage: the first round over the stored tokens after the
 *    load (it learns the open invites made before, a page every 0.1 s):
 *    its duration, the server CPU meanwhile and its longest page; the
 *    registrations are measured after it;
 *  - module load: the server CPU of `module:reload` with the invites in
 *    the store (less that of a no-op shell call), as at every later start;
 *    and, for ours, the first load of this version, which reads every
 *    pending invite once.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import path from "node:path";
import { Connection, xml } from "../harness/clients/xmpp_client.js";
import { ProsodyServer, type Storage } from "../harness/server/prosody_server.js";
import type { ProsodyVersion } from "../harness/server/prosody_sources.js";
import { fillInviteStore } from "../harness/server/invite_filler.js";
import { withRetry } from "./retry.js";
import { median } from "./tables.js";
import type { Element } from "ltx";

export interface ScaleOptions {
	version: ProsodyVersion;
	/** Pending invites per storage, e.g. { sqlite: [300, 3000, 30000, 100000], internal: [3000, 30000] }. */
	sizes: Partial<Record<Storage, number[]>>;
	/** Registrations per run, one at a time. */
	registrations: number;
	/** Runs per module and size with SQL storage (medians are reported); file storage runs once (a run at 30 000 takes minutes). */
	rounds: number;
}

export interface ScaleRun {
	module: "built" | "stock";
	storage: Storage;
	pending: number;
	/** Server CPU per invited registration, ms. */
	server_cpu_ms: number;
	/** Longest ping round trip of an idle client during the registrations, ms. */
	longest_block_ms: number;
	/** Server CPU of reloading the module with the invites in the store, ms. */
	load_cpu_ms: number;
	/** Ours: server CPU of the first load of this version (every pending invite read once), ms. */
	first_load_cpu_ms?: number;
	/**
	 * Ours on SQL storage: after the module (re)loads, its first round over
	 * the stored tokens learns the open invites made before (outside_invites.ts):
	 * how long that took, s, and the server CPU meanwhile, ms (the
	 * registrations are measured after it).
	 */
	catch_up_s?: number;
	catch_up_cpu_ms?: number;
	/** Ours on SQL storage: the longest page of that first round, from the module's log, ms. */
	catch_up_longest_page_ms?: number;
}

const ROUND_LINE = /Looked for invites written by other processes: \d+ stored, \d+ not known before; longest page ([0-9.]+) ms/;

/** Waits for the module's first round over the stored tokens after `from` (log offset): [seconds, longest page ms]. */
async function firstRound(server: ProsodyServer, from: number, since: bigint): Promise<[number, number]> {
	for (;;) {
		const match = server.log().slice(from).match(ROUND_LINE);
		if (match) return [Number(process.hrtime.bigint() - since) / 1e9, Number(match[1])];
		if (process.hrtime.bigint() - since > 600_000_000_000n) throw new Error("no round over the stored invites within 10 minutes");
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

/** Pings the server without pause until stopped; resolves to the longest round trip (ms). */
function pingUntil(client: Connection, stop: { done: boolean }): Promise<number> {
	return (async () => {
		let longest = 0;
		while (!stop.done) {
			const start = process.hrtime.bigint();
			await client.iq(xml("iq", { type: "get", to: client.server.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })) as Element);
			longest = Math.max(longest, Number(process.hrtime.bigint() - start) / 1e6);
		}
		return longest;
	})();
}

async function registerOneByOne(server: ProsodyServer, tokens: string[], label: string): Promise<void> {
	for (let i = 0; i < tokens.length; i++) {
		const client = await Connection.open(server, `scale${i}`);
		try {
			const preauth = await client.preauth(tokens[i]);
			const reply = preauth.attrs.type === "result" ? await client.register(`scale${tokens[i].slice(0, 8).toLowerCase()}${i}`, "scale-password") : preauth;
			if (reply.attrs.type !== "result") throw new Error(`scale ${label}: registration ${i} refused: ${reply.toString()}`);
		} finally {
			await client.close();
		}
	}
}

/**
 * The server's data on tmpfs where there is one: a SQLite commit's fsync
 * blocks the server, and on a virtual disk that took up to half a second
 * at times, with either module (2026-12-01), so the longest block measured
 * the disk. PostgreSQL runs with fsync off for the same reason.
 */
function scaleDataDir(storage: Storage): string | undefined {
	return existsSync(TMPFS) ? mkdtempSync(path.join(TMPFS, `prosody-scale-${storage}-`)) : undefined;
}
const TMPFS = "/dev/shm";

async function oneScaleRun(options: ScaleOptions, module: "built" | "stock", storage: Storage, pending: number): Promise<ScaleRun> {
	const dataDir = scaleDataDir(storage);
	const removeData = () => dataDir !== undefined && rmSync(dataDir, { recursive: true, force: true });
	const server = await ProsodyServer.start({ version: options.version, storage, module, dataDir }).catch((error: unknown) => {
		removeData();
		throw error;
	});
	try {
		await server.createUser("pinger", "pinger-password");
		const tokens = await fillInviteStore(server, pending, 2 * options.registrations);
		const reload = `module:reload("invites_register", "${server.domain}")`;
		let first_load_cpu_ms: number | undefined;
		if (module === "built") {
			// As the first start of this version: no index state yet, so every pending invite is read once.
			await server.lua(`(function () require "core.storagemanager".open(${JSON.stringify(server.domain)}, "invites_register_index"):set(nil, nil); return true end)()`);
			first_load_cpu_ms = await server.shellCpuMs(reload);
		}
		const from = server.log().length;
		const loaded_at = process.hrtime.bigint();
		const cpu_before_load = server.cpuSeconds();
		const load_cpu_ms = await server.shellCpuMs(reload);
		let catch_up: Pick<ScaleRun, "catch_up_s" | "catch_up_cpu_ms" | "catch_up_longest_page_ms"> = {};
		if (module === "built" && storage !== "internal") {
			const [seconds, longest_page] = await firstRound(server, from, loaded_at);
			catch_up = { catch_up_s: seconds, catch_up_cpu_ms: (server.cpuSeconds() - cpu_before_load) * 1000 - load_cpu_ms, catch_up_longest_page_ms: longest_page };
		}

		// CPU per registration without the pinger (its pings cost CPU too),
		// then the longest block with it, over as many registrations again.
		let cpu = server.cpuSeconds();
		await registerOneByOne(server, tokens.slice(0, options.registrations), `${module}/${storage}/${pending}`);
		const server_cpu_ms = ((server.cpuSeconds() - cpu) * 1000) / options.registrations;
		const pinger = await Connection.login(server, "pinger", "pinger-password", "pinger");
		const stop = { done: false };
		const longest = pingUntil(pinger, stop);
		await registerOneByOne(server, tokens.slice(options.registrations), `${module}/${storage}/${pending}`);
		stop.done = true;
		const longest_block_ms = await longest;
		await pinger.close();
		const problems = server.logProblems();
		if (problems.length > 0) throw new Error(`scale ${module}/${storage}/${pending}: errors in the server log:\n${problems.join("\n")}`);
		return { module, storage, pending, server_cpu_ms, longest_block_ms, load_cpu_ms, first_load_cpu_ms, ...catch_up };
	} finally {
		await server.stop();
		removeData();
	}
}

export async function runScale(options: ScaleOptions, progress: (line: string) => void): Promise<ScaleRun[]> {
	const runs: ScaleRun[] = [];
	for (const [storage, sizes] of Object.entries(options.sizes) as [Storage, number[]][]) {
		for (const pending of sizes) {
			const rounds = storage === "internal" ? 1 : options.rounds;
			for (let round = 1; round <= rounds; round++) {
				// Rotate which module goes first.
				const order = round % 2 === 1 ? (["built", "stock"] as const) : (["stock", "built"] as const);
				for (const module of order) {
					const run = await withRetry(`scale ${storage} ${pending} pending round ${round} ${module}`, () => oneScaleRun(options, module, storage, pending), progress);
					if (run === undefined) continue;
					progress(
						`  scale ${storage} ${pending} pending round ${round} ${module === "built" ? "ours " : "stock"}: server CPU ${run.server_cpu_ms.toFixed(2)} ms per registration, ` +
							`longest block ${run.longest_block_ms.toFixed(0)} ms, module load ${run.load_cpu_ms.toFixed(0)} ms` +
							(run.first_load_cpu_ms !== undefined ? ` (first load of this version ${run.first_load_cpu_ms.toFixed(0)} ms)` : "") +
							(run.catch_up_s !== undefined
								? `, first round after load ${run.catch_up_s.toFixed(1)} s, ${(run.catch_up_cpu_ms ?? 0).toFixed(0)} ms CPU, longest page ${(run.catch_up_longest_page_ms ?? 0).toFixed(1)} ms`
								: ""),
					);
					runs.push(run);
				}
			}
		}
	}
	return runs;
}

/** The median of each figure over the rounds of one module, storage and size. */
export function scaleMedian(runs: ScaleRun[], module: "built" | "stock", storage: string, pending: number): (ScaleRun & { rounds: number; longest_block_max_ms: number }) | undefined {
	const of = runs.filter((r) => r.module === module && r.storage === storage && r.pending === pending);
	if (of.length === 0) return undefined;
	const first = of.map((r) => r.first_load_cpu_ms).filter((x): x is number => x !== undefined);
	const defined = (xs: (number | undefined)[]): number | undefined => {
		const present = xs.filter((x): x is number => x !== undefined);
		return present.length > 0 ? median(present) : undefined;
	};
	return {
		module,
		storage: of[0].storage,
		pending,
		rounds: of.length,
		server_cpu_ms: median(of.map((r) => r.server_cpu_ms)),
		longest_block_ms: median(of.map((r) => r.longest_block_ms)),
		longest_block_max_ms: Math.max(...of.map((r) => r.longest_block_ms)),
		load_cpu_ms: median(of.map((r) => r.load_cpu_ms)),
		first_load_cpu_ms: first.length > 0 ? median(first) : undefined,
		catch_up_s: defined(of.map((r) => r.catch_up_s)),
		catch_up_cpu_ms: defined(of.map((r) => r.catch_up_cpu_ms)),
		catch_up_longest_page_ms: of.some((r) => r.catch_up_longest_page_ms !== undefined) ? Math.max(...of.map((r) => r.catch_up_longest_page_ms ?? 0)) : undefined,
	};
}
