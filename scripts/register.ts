/**
 * Registers an account with an invite, as an XMPP client would:
 * <preauth/> then In-Band Registration, then signs in once.
 *
 *   npm run register -- [--port 5222] <xmpp: invite URI> <username> <password>
 *
 * (`npm run register` trusts the demo's self-signed certificate through
 * NODE_EXTRA_CA_CERTS=.cache/tls/localhost.crt.)
 */
import { parseArgs } from "node:util";
import { Connection } from "../harness/clients/xmpp_client.js";

const { values, positionals } = parseArgs({ options: { port: { type: "string", default: "5222" } }, allowPositionals: true });
const [uri, username, password] = positionals;
const match = uri?.match(/^xmpp:([^?]+)\?register;preauth=([^;]+)/);
if (!match || !username || !password) {
	console.error("usage: npm run register -- [--port 5222] <xmpp:…?register;preauth=… URI> <username> <password>");
	process.exit(2);
}
const [, domain, token] = match;
const connection = await Connection.open({ port: Number(values.port), domain });
const preauth = await connection.preauth(token);
console.log(`preauth: ${preauth.toString()}`);
if (preauth.attrs.type !== "result") {
	await connection.close();
	process.exit(1);
}
const registered = await connection.register(username, password);
console.log(`register: ${registered.toString()}`);
if (registered.attrs.type === "result") {
	await connection.login(username, password);
	console.log(`signed in as ${username}@${domain}`);
}
await connection.close();
process.exit(registered.attrs.type === "result" ? 0 : 1);
