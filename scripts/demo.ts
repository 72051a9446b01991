/**
 * `npm start`: a local Prosody 0.12 on loopback with the freshly built
 * module (file storage in a temporary folder), and an invite to register
 * with. Stops cleanly on Ctrl-C.
 *
 *   npm start                  # port 5222 when free, else any free port
 *   npm start -- --port 15222  # (0: any free port)
 *   npm start -- --version 13  # Prosody 13 (bookworm-backports) instead
 */
import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { ProsodyServer } from "../harness/server/prosody_server.js";
import { repoRoot } from "../harness/server/prosody_sources.js";

const { values } = parseArgs({
	options: {
		port: { type: "string" },
		version: { type: "string", default: "0.12" },
	},
});
const version = values.version === "13" ? "13" : "0.12";

async function portIsFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const probe = net.createServer();
		probe.once("error", () => resolve(false));
		probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
	});
}

// --port 0, or 5222 being taken: any free port.
const requested = values.port !== undefined ? Number(values.port) : 5222;
const port = requested !== 0 && (values.port !== undefined || (await portIsFree(requested))) ? requested : undefined;
const server = await ProsodyServer.start({ version, storage: "internal", port });
const invite = await server.createAccountInvite();
const certificate = path.relative(process.cwd(), path.join(repoRoot, ".cache/tls/localhost.crt"));

console.log(`
Prosody ${version} is running on 127.0.0.1:${server.port} for the domain "${server.domain}",
with mod_invites_register from dist-lua/ (data and log in ${server.dataDir}).

  Invite: ${invite.uri}

Register with any XMPP client on this machine: open the invite above in a
client that supports invites, or create an account on "${server.domain}",
connecting to 127.0.0.1 port ${server.port}, and give it the token
${invite.token} when it asks. The connection uses STARTTLS with a
self-signed certificate (${certificate}): accept it when the client asks.

From another terminal:
  npm run register -- --port ${server.port} "${invite.uri}" alice secret

Press Ctrl-C to stop.`);

let stopping = false;
async function stop(): Promise<void> {
	if (stopping) return;
	stopping = true;
	console.log("\nStopping Prosody...");
	const code = await server.stop();
	console.log(`Prosody stopped (exit status ${code}).`);
	process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
