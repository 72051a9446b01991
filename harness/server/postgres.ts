/**
 * A throwaway PostgreSQL cluster for the tests and benchmarks: Debian's
 * `postgresql` (installed by scripts/setup-prosody.sh), initialised in a
 * temporary folder, listening on loopback on a free port, trusting local
 * connections, without fsync; one per process, started on first use and
 * removed when the process exits. PostgreSQL refuses to run as root: as
 * root it runs as the `postgres` user the Debian package creates.
 *
 *   const db = await postgresDatabase(); // { host, port, database, username }
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "./free_port.js";

export interface PostgresDatabase {
	readonly host: string;
	readonly port: number;
	readonly database: string;
	readonly username: string;
}

interface Cluster {
	readonly dir: string;
	readonly port: number;
	readonly bin: string;
	readonly asUser: string[];
}

let cluster: Cluster | undefined;
let databases = 0;

/** The binaries of the newest PostgreSQL Debian installed (/usr/lib/postgresql/N/bin). */
function postgresBin(): string {
	const root = "/usr/lib/postgresql";
	const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin/initdb"))) : [];
	if (versions.length === 0) throw new Error("No PostgreSQL in /usr/lib/postgresql: run scripts/setup-prosody.sh");
	versions.sort((a, b) => Number(b) - Number(a));
	return path.join(root, versions[0], "bin");
}

function run(c: Cluster, command: string, args: string[]): string {
	return execFileSync(c.asUser.length > 0 ? c.asUser[0] : path.join(c.bin, command), c.asUser.length > 0 ? [...c.asUser.slice(1), path.join(c.bin, command), ...args] : args, {
		encoding: "utf8",
		stdio: ["ignore", "pipe", "pipe"],
	});
}

function stopCluster(): void {
	const c = cluster;
	if (c === undefined) return;
	cluster = undefined;
	try {
		run(c, "pg_ctl", ["-D", path.join(c.dir, "data"), "-m", "immediate", "-w", "stop"]);
	} catch {
		// already gone
	}
	rmSync(c.dir, { recursive: true, force: true });
}

async function startCluster(): Promise<Cluster> {
	const bin = postgresBin();
	const isRoot = process.getuid?.() === 0;
	const dir = mkdtempSync(path.join(os.tmpdir(), "mod_invites_register-pg-"));
	const asUser = isRoot ? ["runuser", "-u", "postgres", "--"] : [];
	if (isRoot) {
		const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
		const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
		chownSync(dir, uid, gid);
	}
	const port = await freePort();
	const c: Cluster = { dir, port, bin, asUser };
	const data = path.join(dir, "data");
	run(c, "initdb", ["-D", data, "-A", "trust", "-U", "prosody", "--no-sync", "-E", "UTF8"]);
	cluster = c;
	process.once("exit", stopCluster);
	run(c, "pg_ctl", [
		"-D", data, "-l", path.join(dir, "postgres.log"), "-w", "start",
		"-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
	]);
	return c;
}

/** A new, empty database in this process's cluster (started on first use). */
export async function postgresDatabase(): Promise<PostgresDatabase> {
	cluster ??= await startCluster();
	databases += 1;
	const database = `prosody_${process.pid}_${databases}`;
	run(cluster, "createdb", ["-h", "127.0.0.1", "-p", String(cluster.port), "-U", "prosody", database]);
	return { host: "127.0.0.1", port: cluster.port, database, username: "prosody" };
}

/** The PostgreSQL server version, e.g. "15.14", for the printed versions. */
export function postgresVersion(): string {
	return execFileSync(path.join(postgresBin(), "postgres"), ["--version"], { encoding: "utf8" }).trim().replace(/^.*\(PostgreSQL\)\s*/, "");
}
