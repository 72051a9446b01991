/**
 * One real Prosody per describe block: started before its tests, stopped
 * after them (also when they fail), and its log checked for errors and Lua
 * tracebacks at the end.
 *
 *   describe.each(serverMatrix)("Prosody %s, %s storage", (version, storage) => {
 *     const server = useServer({ version, storage });
 *     test("…", async () => { const invite = await server().createAccountInvite(); … });
 *   });
 */
import { serverVersions, type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { ProsodyServer, storages, type ServerOptions, type Storage } from "../../harness/server/prosody_server.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

/**
 * The servers of the suites where storage matters (registration, its
 * faults, the stores behind invites): 0.12 with file and SQLite storage,
 * 13.0.1 (bookworm-backports) with SQLite, the newest 13 with file, SQLite
 * and PostgreSQL.
 */
export const serverMatrix: [ProsodyVersion, Storage][] = serverVersions.flatMap((version) =>
	(version === "13" ? (["sqlite"] as Storage[]) : version === "13-latest" ? [...storages, "postgres" as const] : storages).map((storage): [ProsodyVersion, Storage] => [version, storage]),
);

/**
 * The servers of the suites where it does not (client flows, web pages,
 * subscriptions, limits): each version once, on one storage of the three,
 * to keep `npm test` near five minutes.
 */
export const versionMatrix: [ProsodyVersion, Storage][] = [
	["0.12", "internal"],
	["13", "sqlite"],
	["13-latest", "postgres"],
];

export function useServer(options: ServerOptions): () => ProsodyServer {
	let server: ProsodyServer | undefined;
	beforeAll(async () => {
		server = await ProsodyServer.start(options);
	});
	afterAll(async () => {
		if (!server) return;
		const problems = server.logProblems();
		await server.stop();
		expect(problems).toEqual([]);
	});
	return () => {
		if (!server) throw new Error("server not started");
		return server;
	};
}

let counter = 0;
/** A username no other test on this server uses. */
export function uniqueName(base: string): string {
	counter += 1;
	return `${base}${counter}${process.pid % 1000}`;
}

/** The connections the tests of a describe block open, each closed after its test. */
export function useConnections(server: () => ProsodyServer): { open(): Promise<Connection>; login(username: string, password: string): Promise<Connection> } {
	const connections: Connection[] = [];
	afterEach(async () => {
		await Promise.all(connections.splice(0).map((c) => c.close()));
	});
	const kept = (connection: Connection): Connection => {
		connections.push(connection);
		return connection;
	};
	return {
		open: async () => kept(await Connection.open(server())),
		login: async (username, password) => kept(await Connection.login(server(), username, password)),
	};
}
