// Invites written into SQL storage by another process (a web panel, a
// script, 0.12's prosodyctl): found by reading mod_invites' rows a page at
// a time from a timer, never all of them in one call and never from a
// request. The simulated mod_storage_sql (prosody_sim/modules/
// mod_storage_sim_sql.lua) answers the page query from the simulator's
// storage and counts pages and rows.
import type { Element } from "ltx";
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const SQL = { storage: "sql", sql: { driver: "SQLite3", database: "/sim/prosody.sqlite" } };
const OPEN = { config: { registration_invite_only: false, ...SQL }, modules: ["presence", "register_ibr", "invites_register"] };
const RESERVED = { type: "cancel", condition: "conflict", text: "The username 'alice' is reserved for an invited user" };

function registerWith(sim: ProsodySim, token: string | undefined, username: string): Element {
	const client = sim.connect();
	if (token !== undefined) expect(sim.preauth(client, token).attrs.type).toBe("result");
	return sim.register(client, username);
}

/** `count` open invites written straight into the store, as a bulk tool would. */
function writeElsewhere(sim: ProsodySim, count: number): void {
	sim.call(
		`local count = ...;
		local store = sim.storage.open(sim.host, "invite_token", "map");
		for i = 1, count do
			local token = ("Bulk%020d"):format(i);
			assert(store:set(nil, token, { type = "register", jid = sim.host, token = token, allow_registration = true,
				uri = "xmpp:" .. sim.host .. "?register;preauth=" .. token, created_at = sim.now, expires = sim.now + 86400 }));
		end`,
		count,
	);
}

/** Lets `seconds` pass one second at a time, so that a timer due every second runs each time. */
function secondsPass(sim: ProsodySim, seconds: number): void {
	for (let i = 0; i < seconds; i++) sim.advance(1);
}

const roundLogs = (sim: ProsodySim) => sim.logs("debug").map((l) => l.message).filter((m) => m.startsWith("Looked for invites written by other processes"));

describe.each(prosodyVersions)("invites written into SQL storage by another process, on Prosody %s", (version) => {
	const sims = simulators();

	test("a bound invite written by another process reserves its username within a second, without a read of every invite", () => {
		const sim = sims.create({ version, ...OPEN });
		const whole = sim.wholeReads("invite_token");
		secondsPass(sim, 1); // the first round: nothing yet
		sim.advance(60); // the next round starts a minute after the last ended
		sim.invites.createElsewhere("alice");
		expect(registerWith(sim, undefined, "bob").attrs.type).toBe("result"); // a request reads no page
		const pagesBefore = sim.sqlReads().pages;
		sim.advance(60);
		expect(sim.sqlReads().pages).toBe(pagesBefore + 1);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(sim.wholeReads("invite_token")).toBe(whole);
	});

	test("a round lists 1000 tokens a second (a page every tenth of a second, 400 records at most, while it finds new invites); the records of known invites are not read again", () => {
		const sim = sims.create({ version, ...OPEN });
		expect(sim.sqlReads()).toEqual({ pages: 1, rows: 0, records: 0 }); // the first page at load
		writeElsewhere(sim, 2500);
		sim.advance(60); // the next round
		expect(sim.sqlReads()).toEqual({ pages: 2, rows: 1000, records: 400 }); // at most 400 records a page
		for (let i = 0; i < 20 && roundLogs(sim).length < 2; i++) sim.advance(0.1);
		expect(sim.sqlReads().records).toBe(2500); // each new invite read once
		expect(roundLogs(sim).at(-1)).toMatch(/^Looked for invites written by other processes: 2500 stored, 2500 not known before; longest page [0-9.]+ ms \([0-9.]+ ms CPU\)$/);
		const pages = sim.sqlReads().pages;
		secondsPass(sim, 59);
		expect(sim.sqlReads().pages).toBe(pages); // a minute between rounds
		secondsPass(sim, 3);
		expect(sim.sqlReads()).toEqual({ pages: pages + 3, rows: expect.any(Number), records: 2500 }); // known: listed, not read
		expect(roundLogs(sim).at(-1)).toMatch(/: 2500 stored, 0 not known before;/);
	});

	test("a page stops decoding new invites after 20 ms and leaves the rest for the next page, a tenth of a second later", () => {
		const sim = sims.create({ version, ...OPEN });
		writeElsewhere(sim, 100);
		sim.call("sim.time_step = 0.001"); // each look at the clock: 1 ms later
		sim.advance(60);
		sim.call("sim.time_step = nil");
		expect(sim.sqlReads().pages).toBe(2);
		const rounds = roundLogs(sim).length; // the round goes on, a tenth of a second later
		sim.advance(0.1);
		expect(sim.sqlReads().pages).toBe(3);
		expect(roundLogs(sim)).toHaveLength(rounds + 1);
		expect(roundLogs(sim).at(-1)).toMatch(/: 100 stored, 100 not known before;/);
	});

	test("the first load of this version takes over the invites made before page by page, never in one read; names wait until it ends", () => {
		const sim = sims.create({ version, ...OPEN, modules: ["presence", "register_ibr", "invites"] });
		sim.invites.createElsewhere("alice");
		writeElsewhere(sim, 1500);
		sim.call(`assert(sim.modulemanager.load(sim.host, "invites_register"))`);
		expect(sim.wholeReads("invite_token")).toBe(0);
		expect(stanzaError(registerWith(sim, undefined, "zed"))).toEqual({ type: "wait", condition: "internal-server-error", text: "The username could not be checked, please try again later" });
		const tookOver = () => sim.logs("info").some((l) => l.message === "Took over the pending invites made before this version");
		for (let i = 0; i < 20 && !tookOver(); i++) sim.advance(0.1); // pages that find new invites come every tenth of a second
		expect(tookOver()).toBe(true);
		expect(sim.sqlReads().records).toBe(1501);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(registerWith(sim, undefined, "zed").attrs.type).toBe("result");
		// Taken over once: the next load reads the module's own stores.
		sim.call(`assert(sim.modulemanager.reload(sim.host, "invites_register"))`);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		expect(sim.wholeReads("invite_token")).toBe(0);
	});

	test("after a restart, the first round knows the open invites made before it as pending (checked whatever the budgets)", () => {
		const sim = sims.create({ version, config: SQL });
		const invite = sim.invites.createElsewhere(undefined);
		sim.advance(60);
		const client = sim.connect({ ip: "192.0.2.7" });
		for (let i = 0; i < 5; i++) sim.preauth(client, `MadeUpToken${String(i).padStart(13, "0")}`);
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
	});

	test("a database that fails is logged and tried again at the next round; what is reserved stays reserved", () => {
		const sim = sims.create({ version, ...OPEN });
		secondsPass(sim, 1); // the first round ends (with it, the taking over at the first load)
		sim.invites.createAccount("carol");
		sim.invites.createElsewhere("alice");
		sim.storage.fail("invite_token", "error", "get");
		sim.advance(60);
		expect(sim.logs("warn").map((l) => l.message).join("\n")).toContain("Could not look for invites written by other processes");
		sim.storage.fail("invite_token", undefined);
		expect(stanzaError(registerWith(sim, undefined, "carol"))?.condition).toBe("conflict");
		sim.advance(60);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
	});

	test("records no mod_invites would write are skipped and not looked at again; the others count", () => {
		const sim = sims.create({ version, ...OPEN });
		sim.call(`local store = sim.storage.open(sim.host, "invite_token", "map");
			assert(store:set(nil, "AAAAExpiredInvite0000000", { type = "register", jid = "zed@" .. sim.host, token = "AAAAExpiredInvite0000000", allow_registration = true, expires = sim.now - 1 }));
			assert(store:set(nil, "AAABNotATable00000000000", "garbage"));
			assert(store:set(nil, "AAACWrongToken0000000000", { type = "register", jid = "yan@" .. sim.host, token = "SomethingElse", allow_registration = true, expires = sim.now + 3600 }));`);
		sim.invites.createElsewhere("alice");
		sim.advance(60);
		expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		for (const name of ["zed", "yan"]) expect(registerWith(sim, undefined, name).attrs.type).toBe("result");
		sim.advance(60);
		expect(roundLogs(sim).at(-1)).toMatch(/: 4 stored, 0 not known before;/);
	});

	test("not on SQL storage: no pages; other storage is read whole only with invite_reservation_refresh", () => {
		const sim = sims.create({ version, config: { registration_invite_only: false }, modules: OPEN.modules });
		sim.invites.createElsewhere("alice");
		secondsPass(sim, 2);
		sim.advance(3600);
		expect(sim.sqlReads().pages).toBe(0);
		expect(registerWith(sim, undefined, "alice").attrs.type).toBe("result");
	});
});
