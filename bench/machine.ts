/** The machine and versions a benchmark ran on: printed above the tables and kept in latest.json. */
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { prosodySource } from "../harness/server/prosody_sources.js";

function firstLine(command: string, args: string[]): string {
	try {
		return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).split("\n")[0].trim();
	} catch (err) {
		return (err as { stderr?: string }).stderr?.split("\n")[0].trim() ?? "unknown";
	}
}

export function machine() {
	const cpus = os.cpus();
	return {
		cpu: cpus[0]?.model ?? "unknown",
		cores: cpus.length,
		memory_gib: Math.round(os.totalmem() / 2 ** 30),
		kernel: `${os.type()} ${os.release()}`,
		node: process.version,
		lua: [firstLine("lua5.4", ["-v"]), firstLine("luajit", ["-v"])],
		prosody: { "0.12": firstLine("cat", [path.join(prosodySource("0.12"), "prosody.version")]), "13": firstLine("cat", [path.join(prosodySource("13"), "prosody.version")]) },
		date: new Date().toISOString(),
	};
}
