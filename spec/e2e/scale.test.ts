// End to end at scale: with 30 000 pending invites in SQLite and PostgreSQL
// (written straight into the store, as bulk tools do), on real Prosody 0.12
// and 13,
// loading the module reads none of them and an invited registration takes
// as long as with a few hundred: nothing reads every pending invite while
// the server serves. (`npm run bench` measures the same up to 100 000
// pending invites, against the stock module: table 5.)
import { prosodyVersions } from "../support/prosody_sources.js";
import { fillInviteStore } from "../support/invite_filler.js";
import { useServer } from "../support/server_fixture.js";
import { Connection } from "../support/xmpp_client.js";
import type { ProsodyServer, Storage } from "../support/prosody_server.js";

const MANY = 30_000;

/** Wall time (ms) of each invited registration, one at a time. */
async function registrationTimes(server: ProsodyServer, tokens: string[], prefix: string): Promise<number[]> {
	const times: number[] = [];
	for (const [i, token] of tokens.entries()) {
		const start = process.hrtime.bigint();
		const client = await Connection.open(server, `${prefix}${i}`);
		try {
			expect((await client.preauth(token)).attrs.type).toBe("result");
			expect((await client.register(`${prefix}${i}`, "scale-password")).attrs.type).toBe("result");
		} finally {
			await client.close();
		}
		times.push(Number(process.hrtime.bigint() - start) / 1e6);
	}
	return times;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const matrix = prosodyVersions.flatMap((version) => (["sqlite", "postgres"] as Storage[]).map((storage) => [version, storage] as const));

describe.each(matrix)("Prosody %s with %s storage and 30 000 pending invites", (version, storage) => {
	const server = useServer({ version, storage });

	test(
		"loading the module reads none of them, and registrations stay as fast as with 300",
		async () => {
			const few = await fillInviteStore(server(), 300, 6);
			const before = median(await registrationTimes(server(), few, "few"));
			const many = await fillInviteStore(server(), MANY, 6);
			// As at every start after the first: the module reads its own store, not the invites.
			const loadMs = await server().shellCpuMs(`module:reload("invites_register", "${server().domain}")`);
			expect(loadMs).toBeLessThan(200); // a complete read of 30 000 invites costs about 600 ms
			const after = median(await registrationTimes(server(), many, "many"));
			expect(after).toBeLessThan(before * 2 + 50);
		},
		120_000,
	);
});
