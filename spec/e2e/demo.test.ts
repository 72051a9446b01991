// `npm start` (scripts/demo.ts): prints an invite that a real client can
// register with, and stops Prosody cleanly on Ctrl-C.
import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../../harness/server/prosody_sources.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

test("the demo's invite registers an account, and Ctrl-C stops Prosody", async () => {
	const demo = spawn(path.join(repoRoot, "node_modules/.bin/tsx"), ["scripts/demo.ts", "--port", "0"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	demo.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
	demo.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
	const exited = new Promise<number | null>((resolve) => demo.once("exit", (code) => resolve(code)));
	try {
		const deadline = Date.now() + 20_000;
		while (!output.includes("Press Ctrl-C to stop.") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
		const uri = output.match(/Invite: (xmpp:(\S+)\?register;preauth=(\S+))/);
		const port = output.match(/running on 127\.0\.0\.1:(\d+)/);
		expect(uri).not.toBeNull();
		expect(port).not.toBeNull();
		const client = await Connection.open({ port: Number(port![1]), domain: uri![2] });
		try {
			expect((await client.preauth(uri![3])).attrs.type).toBe("result");
			expect((await client.register("demo", "secret")).attrs.type).toBe("result");
			await client.login("demo", "secret");
		} finally {
			await client.close();
		}
	} finally {
		demo.kill("SIGINT");
	}
	expect(await exited).toBe(0);
	expect(output).toContain("Prosody stopped (exit status 0).");
});
