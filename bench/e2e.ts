/**
 * End-to-end throughput: invited registrations per second on a real
 * Prosody, ours against the stock module in the same run.
 *
 * Each round starts a fresh server per module (alternating which goes
 * first), creates `registrations` single-use invites through
 * `prosodyctl shell`, then has that many clients — `concurrency` at a time
 * — connect (STARTTLS), present an invite and register. Afterwards the
 * accounts are counted: each invite must have made exactly one account.
 */
import { ProsodyServer, type Storage } from "../spec/support/prosody_server.js";
import { Connection } from "../spec/support/xmpp_client.js";
import type { ProsodyVersion } from "../spec/support/prosody_sources.js";

export interface E2EOptions {
	version: ProsodyVersion;
	storages: Storage[];
	rounds: number;
	registrations: number;
	concurrency: number;
}

export interface E2ERound {
	module: "built" | "stock";
	storage: Storage;
	round: number;
	seconds: number;
	per_second: number;
	/** Server CPU time (user + system) per registration, in milliseconds. */
	server_cpu_ms: number;
	accounts: number;
	refused: number;
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

async function oneRun(options: E2EOptions, module: "built" | "stock", storage: Storage, round: number): Promise<E2ERound> {
	const server = await ProsodyServer.start({ version: options.version, storage, module });
	try {
		const tokens = await server.lua<string[]>(
			`(function () local t = {}; for i = 1, ${options.registrations} do t[i] = assert(host.modules.invites.create_account()).token; end; return t; end)()`,
		);
		const cpuBefore = server.cpuSeconds();
		const { seconds, refused } = await registerAll(server, tokens, options.concurrency, `r${round}u`);
		const serverCpuMs = ((server.cpuSeconds() - cpuBefore) * 1000) / tokens.length;
		const accounts = await server.lua<number>(`(function () local n = 0; for _ in require "core.usermanager".users(${JSON.stringify(server.domain)}) do n = n + 1; end; return n; end)()`);
		const stillValid = await server.lua<number>(
			`(function () local n = 0; for _, token in ipairs(${JSON.stringify(tokens).replace(/^\[/, "{").replace(/\]$/, "}")}) do if host.modules.invites.get(token) then n = n + 1; end; end; return n; end)()`,
		);
		if (accounts !== tokens.length || stillValid !== 0 || refused !== 0) {
			throw new Error(`${module}/${storage} round ${round}: ${tokens.length} invites made ${accounts} accounts, ${refused} refused, ${stillValid} still valid`);
		}
		const problems = server.logProblems();
		if (problems.length > 0) throw new Error(`${module}/${storage}: errors in the server log:\n${problems.join("\n")}`);
		return { module, storage, round, seconds, per_second: tokens.length / seconds, server_cpu_ms: serverCpuMs, accounts, refused };
	} finally {
		await server.stop();
	}
}

export async function runE2E(options: E2EOptions, progress: (line: string) => void): Promise<E2ERound[]> {
	const results: E2ERound[] = [];
	for (const storage of options.storages) {
		for (let round = 1; round <= options.rounds; round++) {
			const order: ("built" | "stock")[] = round % 2 === 1 ? ["built", "stock"] : ["stock", "built"];
			for (const module of order) {
				const result = await oneRun(options, module, storage, round);
				progress(`  e2e ${storage} round ${round} ${module === "built" ? "ours " : "stock"}: ${result.per_second.toFixed(1)} registrations/s, server CPU ${result.server_cpu_ms.toFixed(2)} ms each`);
				results.push(result);
			}
		}
	}
	return results;
}
