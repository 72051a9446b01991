/**
 * End-to-end cost: invited registrations on a real Prosody, our module
 * against the previous version of it (the baseline) and the stock module,
 * in the same run.
 *
 * Each round starts a fresh server per module (the order rotates from round
 * to round), fills the invite store with `pending` account invites in one
 * `prosodyctl shell` call, then has `registrations` clients — `concurrency`
 * at a time — connect (STARTTLS), present one of those invites and
 * register. The store therefore shrinks from `pending` to
 * `pending - registrations` during the timed part. Afterwards: one account
 * per invite used, none of those invites still valid, the rest still
 * pending, no error in the log, and the server ran the intended file.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ProsodyServer, type ServerOptions, type Storage } from "../harness/server/prosody_server.js";
import { builtModuleDir, prosodySource, repoRoot, type ProsodyVersion } from "../harness/server/prosody_sources.js";
import { Connection } from "../harness/clients/xmpp_client.js";
import { fillInviteStore } from "../harness/server/invite_filler.js";
import { withRetry } from "./retry.js";

export { fillInviteStore };

/** "built": dist-lua/ of the working tree; "baseline": the module of an earlier commit; "stock": Prosody's own. */
export type Variant = "built" | "baseline" | "stock";

export interface E2EOptions {
	version: ProsodyVersion;
	storages: Storage[];
	/** Invite store sizes: pending account invites when the timed registrations start. */
	pending: number[];
	rounds: number;
	registrations: number;
	concurrency: number;
	/** Folder holding the baseline's mod_invites_register.lua; without it, no baseline runs. */
	baselineDir?: string;
}

export interface E2ERound {
	module: Variant;
	storage: Storage;
	/** Pending account invites in the store when the timed registrations start. */
	pending: number;
	round: number;
	seconds: number;
	per_second: number;
	/** Server CPU time (user + system) per registration, in milliseconds. */
	server_cpu_ms: number;
	accounts: number;
	refused: number;
	/** Pending account invites left in the store afterwards (= pending - registrations). */
	pending_after: number;
	/** Seconds the server spent filling the store (not timed). */
	setup_seconds: number;
}

/** The baseline: `git show REV:dist-lua/mod_invites_register.lua` in a new temporary plugin folder. */
export function extractBaseline(rev: string): { dir: string; commit: string; bytes: number; remove: () => void } {
	const commit = execFileSync("git", ["rev-parse", "--verify", `${rev}^{commit}`], { cwd: repoRoot, encoding: "utf8" }).trim();
	const source = execFileSync("git", ["show", `${commit}:dist-lua/mod_invites_register.lua`], { cwd: repoRoot, encoding: "utf8", maxBuffer: 1 << 26 });
	const dir = mkdtempSync(path.join(os.tmpdir(), `mod_invites_register-${commit.slice(0, 7)}-`));
	writeFileSync(path.join(dir, "mod_invites_register.lua"), source);
	return { dir, commit, bytes: Buffer.byteLength(source), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function startServer(options: E2EOptions, module: Variant, storage: Storage, countStoreOperations = false): Promise<{ server: ProsodyServer; expectedFile: string }> {
	if (module === "baseline") {
		const dir = options.baselineDir!;
		return {
			server: await ProsodyServer.start({ version: options.version, storage, module: "built", pluginDir: dir, testStorage: countStoreOperations }),
			expectedFile: path.join(dir, "mod_invites_register.lua"),
		};
	}
	const server = await ProsodyServer.start({ version: options.version, storage, module, testStorage: countStoreOperations });
	const dir = module === "built" ? builtModuleDir : path.join(prosodySource(options.version), "modules");
	return { server, expectedFile: path.join(dir, "mod_invites_register.lua") };
}

async function countPending(server: ProsodyServer): Promise<number> {
	return server.lua<number>(
		`(function () local n = 0; for _ in host.modules.invites.pending_account_invites() do n = n + 1; end; return n; end)()`,
	);
}

async function registerAll(server: ProsodyServer, tokens: string[], concurrency: number, prefix: string): Promise<{ seconds: number; refused: number }> {
	let next = 0;
	let refused = 0;
	async function worker(): Promise<void> {
		while (next < tokens.length) {
			const i = next++;
			const client = await Connection.open(server, `bench${i}`);
			try {
				const preauth = await client.preauth(tokens[i]);
				const reply = preauth.attrs.type === "result" ? await client.register(`${prefix}${i}`, "bench-password") : preauth;
				if (reply.attrs.type !== "result") refused++;
			} finally {
				await client.close();
			}
		}
	}
	const start = process.hrtime.bigint();
	await Promise.all(Array.from({ length: concurrency }, worker));
	const seconds = Number(process.hrtime.bigint() - start) / 1e9;
	return { seconds, refused };
}

async function oneRun(options: E2EOptions, module: Variant, storage: Storage, pending: number, round: number): Promise<E2ERound> {
	const { server, expectedFile } = await startServer(options, module, storage);
	const label = `${module}/${storage}/${pending} pending, round ${round}`;
	try {
		const loaded = await server.lua<string>(`host.modules.invites_register.module.path`);
		if (path.normalize(loaded) !== expectedFile) throw new Error(`${label}: the server loaded ${loaded}, not ${expectedFile}`);

		const setupStart = process.hrtime.bigint();
		const tokens = await fillInviteStore(server, pending, options.registrations);
		const setupSeconds = Number(process.hrtime.bigint() - setupStart) / 1e9;
		const before = await countPending(server);
		if (tokens.length !== options.registrations || before !== pending) {
			throw new Error(`${label}: the store holds ${before} pending invites (wanted ${pending}), ${tokens.length} to use`);
		}

		const cpuBefore = server.cpuSeconds();
		const { seconds, refused } = await registerAll(server, tokens, options.concurrency, `r${round}u`);
		const serverCpuMs = ((server.cpuSeconds() - cpuBefore) * 1000) / tokens.length;

		const accounts = await server.lua<number>(`(function () local n = 0; for _ in require "core.usermanager".users(${JSON.stringify(server.domain)}) do n = n + 1; end; return n; end)()`);
		const stillValid = await server.lua<number>(
			`(function () local n = 0; for _, token in ipairs(${JSON.stringify(tokens).replace(/^\[/, "{").replace(/\]$/, "}")}) do if host.modules.invites.get(token) then n = n + 1; end; end; return n; end)()`,
		);
		const after = await countPending(server);
		if (accounts !== tokens.length || stillValid !== 0 || refused !== 0 || after !== pending - tokens.length) {
			throw new Error(`${label}: ${tokens.length} invites made ${accounts} accounts, ${refused} refused, ${stillValid} still valid, ${after} pending left of ${pending}`);
		}
		const problems = server.logProblems();
		if (problems.length > 0) throw new Error(`${label}: errors in the server log:\n${problems.join("\n")}`);
		return {
			module, storage, pending, round, seconds, per_second: tokens.length / seconds, server_cpu_ms: serverCpuMs,
			accounts, refused, pending_after: after, setup_seconds: setupSeconds,
		};
	} finally {
		await server.stop();
	}
}

const names: Record<Variant, string> = { built: "ours    ", baseline: "baseline", stock: "stock   " };

export async function runE2E(options: E2EOptions, progress: (line: string) => void): Promise<E2ERound[]> {
	const variants: Variant[] = options.baselineDir ? ["built", "baseline", "stock"] : ["built", "stock"];
	for (const pending of options.pending) {
		if (!Number.isInteger(pending) || pending < options.registrations) {
			throw new Error(`--pending ${pending}: at least as many pending invites as registrations (${options.registrations}) are needed`);
		}
	}
	const results: E2ERound[] = [];
	for (const storage of options.storages) {
		for (const pending of options.pending) {
			for (let round = 1; round <= options.rounds; round++) {
				// Rotate: over as many rounds as variants, each goes first once.
				const order = variants.map((_, k) => variants[(round - 1 + k) % variants.length]);
				for (const module of order) {
					const result = await withRetry(`e2e ${storage} ${pending} pending round ${round} ${module}`, () => oneRun(options, module, storage, pending, round), progress);
					if (result === undefined) continue;
					progress(
						`  e2e ${storage} ${pending} pending round ${round} ${names[module]}: ${result.per_second.toFixed(1)} registrations/s, server CPU ${result.server_cpu_ms.toFixed(2)} ms each (store filled in ${(result.setup_seconds * 1000).toFixed(0)} ms)`,
					);
					results.push(result);
				}
			}
		}
	}
	return results;
}

/** Store operations per invited registration, by "store method" (e.g. "invite_token get"), for one module and storage. */
export interface StoreOperations {
	module: Variant;
	storage: Storage;
	registrations: number;
	/** Average per registration (from <preauth/> to user-registered), by "store method". */
	per_registration: Record<string, number>;
}

/**
 * Counts the store operations of `registrations` invited registrations,
 * one at a time, with `pending` invites in the store: the storage is
 * wrapped by harness/server/prosody_plugins/mod_storage_test.lua (a
 * separate, untimed run: the wrapper's own calls would blur the CPU figures).
 */
export async function countStoreOperations(options: E2EOptions, pending: number, registrations: number): Promise<StoreOperations[]> {
	const variants: Variant[] = options.baselineDir ? ["built", "baseline", "stock"] : ["built", "stock"];
	const results: StoreOperations[] = [];
	for (const storage of options.storages) {
		for (const module of variants) {
			const { server } = await startServer(options, module, storage, true);
			try {
				const tokens = await fillInviteStore(server, pending, registrations);
				const before = await server.storeOperations();
				const { refused } = await registerAll(server, tokens, 1, "ops");
				if (refused !== 0) throw new Error(`store operations, ${module}/${storage}: ${refused} registrations refused`);
				const after = await server.storeOperations();
				const per_registration: Record<string, number> = {};
				for (const key of Object.keys(after).sort()) {
					const delta = (after[key] ?? 0) - (before[key] ?? 0);
					if (delta > 0) per_registration[key] = delta / registrations;
				}
				results.push({ module, storage, registrations, per_registration });
			} finally {
				await server.stop();
			}
		}
	}
	return results;
}
