// XEP-0445 §5: while an account invite made for a username is pending, only
// that invite registers the name — not another invite, not a registration
// without invite in open mode, not a web registration. The reservation ends
// when the invite is used, expires or is deleted; invites written by another
// process are seen at the first load, and within `invite_reservation_refresh`
// seconds when that is set; a store that cannot be read never frees a name.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";

const OPEN = { config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] };
const RESERVED = { type: "cancel", condition: "conflict", text: "The username 'alice' is reserved for an invited user" };

/** Registers `username` in-band, with `token` presented first when given; returns the reply. */
function registerWith(sim: ProsodySim, token: string | undefined, username: string) {
	const client = sim.connect();
	if (token !== undefined) {
		expect(sim.preauth(client, token).attrs.type).toBe("result");
	}
	return sim.register(client, username);
}

describe.each(prosodyVersions)("usernames reserved by pending invites on Prosody %s", (version) => {
	const sims = simulators();

	describe("while the invite for alice is pending", () => {
		test("another invite cannot register alice: conflict, and that invite stays valid", () => {
			const sim = sims.create({ version });
			sim.invites.createAccount("alice");
			const other = sim.invites.createAccount();
			expect(stanzaError(registerWith(sim, other.token, "alice"))).toEqual(RESERVED);
			expect(sim.userExists("alice")).toBe(false);
			expect(sim.invites.isValid(other.token)).toBe(true);
			expect(registerWith(sim, other.token, "bob").attrs.type).toBe("result");
		});

		test("names are compared as Prosody compares them (case-insensitively)", () => {
			const sim = sims.create({ version });
			sim.invites.createAccount("Alice");
			expect(stanzaError(registerWith(sim, sim.invites.createAccount().token, "ALICE"))?.condition).toBe("conflict");
		});

		test("a registration without invite in open mode cannot register alice", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice");
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
			expect(sim.userExists("alice")).toBe(false);
			expect(registerWith(sim, undefined, "bob").attrs.type).toBe("result");
		});

		test("a web registration with another invite cannot register alice, and is told why", () => {
			const sim = sims.create({ version });
			sim.invites.createAccount("alice");
			const other = sim.invites.createAccount();
			expect(sim.webRegister(other.token, "alice")).toEqual({ outcome: "refused", reason: RESERVED.text, error: RESERVED });
			expect(sim.userExists("alice")).toBe(false);
			expect(sim.invites.isValid(other.token)).toBe(true);
		});

		test("a web registration without invite in open mode cannot register alice", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice");
			expect(sim.webRegister(undefined, "alice")).toMatchObject({ outcome: "refused", error: RESERVED });
		});

		test("alice's own invite registers alice, in-band and on the web", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount("alice");
			expect(registerWith(sim, invite.token, "alice").attrs.type).toBe("result");
			const web = sim.invites.createAccount("webby");
			expect(sim.webRegister(web.token, "webby")).toEqual({ outcome: "registered" });
		});

		test("with two invites for alice, either registers alice; an open invite does not", () => {
			const sim = sims.create({ version });
			sim.invites.createAccount("alice");
			const second = sim.invites.createAccount("alice");
			expect(stanzaError(registerWith(sim, sim.invites.createAccount().token, "alice"))?.condition).toBe("conflict");
			expect(registerWith(sim, second.token, "alice").attrs.type).toBe("result");
		});

		test("only account invites for a username reserve it: open, group, contact and reset invites do not", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount();
			sim.invites.createGroup(["crew"]);
			sim.invites.createContact("frank", true); // its JID is the inviter's
			sim.invites.createReset("erin"); // resets an account, never reserves one
			for (const name of ["alice", "crew", "frank", "erin"]) {
				expect(registerWith(sim, undefined, name).attrs.type).toBe("result");
			}
		});

		test("checking a name reads one invite from storage when it is reserved, and nothing otherwise", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice");
			for (let i = 0; i < 50; i++) sim.invites.createAccount(`user${i}`);
			registerWith(sim, undefined, "warmup");
			const reads = sim.call(`
				local events = sim.prosody.hosts[sim.host].events;
				local function reads_for(username)
					local before = sim.storage.calls;
					local registering = { username = username, host = sim.host, allowed = true };
					events.fire_event("user-registering", registering);
					return { reads = sim.storage.calls - before, allowed = registering.allowed };
				end
				return { hit = reads_for("alice"), miss = reads_for("zed") };`) as { hit: { reads: number; allowed: boolean }; miss: { reads: number; allowed: boolean } };
			expect(reads).toEqual({ hit: { reads: 1, allowed: false }, miss: { reads: 0, allowed: true } });
		});
	});

	describe("the reservation ends", () => {
		test("when alice registers with her invite", () => {
			const sim = sims.create({ version, ...OPEN });
			const invite = sim.invites.createAccount("alice");
			expect(registerWith(sim, invite.token, "alice").attrs.type).toBe("result");
			sim.call(`sim.usermanager.delete_user("alice", sim.host)`);
			expect(registerWith(sim, undefined, "alice").attrs.type).toBe("result");
		});

		test("when the invite expires", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice", undefined, 60);
			expect(stanzaError(registerWith(sim, undefined, "alice"))?.condition).toBe("conflict");
			sim.advance(61);
			expect(registerWith(sim, undefined, "alice").attrs.type).toBe("result");
		});

		test("when the invite is deleted (mod_invites sends no event: storage is checked before refusing)", () => {
			const sim = sims.create({ version, ...OPEN });
			const invite = sim.invites.createAccount("alice");
			sim.invites.delete(invite.token);
			expect(registerWith(sim, undefined, "alice").attrs.type).toBe("result");
		});
	});

	describe("invites written by another process", () => {
		test("present when the module loads are reserved at once", () => {
			const sim = sims.create({ version, ...OPEN, modules: ["presence", "register_ibr", "invites"] });
			sim.invites.createElsewhere("alice");
			sim.call(`assert(sim.modulemanager.load(sim.host, "invites_register"))`);
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		});

		test("written later are reserved within invite_reservation_refresh seconds", () => {
			const sim = sims.create({ version, ...OPEN, config: { ...OPEN.config, invite_reservation_refresh: 30 } });
			registerWith(sim, undefined, "warmup"); // the reservations have just been read
			sim.invites.createElsewhere("alice");
			sim.advance(30);
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		});
	});

	describe("when the invite store cannot be read", () => {
		test("a registration that must check a name is refused as a temporary failure, never allowed", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice");
			sim.advance(3600); // the next registration re-reads the reservations
			sim.storage.fail("invite_token", "error");
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual({ type: "wait", condition: "internal-server-error", text: "The username could not be checked, please try again later" });
			expect(sim.userExists("alice")).toBe(false);
			expect(sim.logs("error").some((e) => e.message.includes("simulated storage failure"))).toBe(true);
			sim.storage.fail("invite_token", undefined);
			// A store that failed is left alone for 10 s (not read again per request): still closed.
			const before = sim.storageCalls();
			const client = sim.connect();
			expect(stanzaError(sim.register(client, "alice"))?.condition).toBe("internal-server-error");
			expect(sim.storageCalls() - before).toBeLessThanOrEqual(2); // mod_register_ibr's own reads, none of the invite store
			sim.advance(10);
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
		});

		test("a record no mod_invites would write is skipped; the others still count", () => {
			const sim = sims.create({ version, ...OPEN, modules: ["presence", "register_ibr", "invites"] });
			sim.invites.createAccount("alice");
			sim.call(`
				local store = sim.storage.open(sim.host, "invite_token", "map");
				store:set(nil, "OddRecordOddRecordOdd001", { type = "register", jid = {}, expires = sim.now + 60, additional_data = 5 });
				store:set(nil, "OddRecordOddRecordOdd002", { type = "register", jid = "x@" .. sim.host, expires = sim.now + 60, additional_data = { allow_reset = {} } });
				store:set(nil, "OddRecordOddRecordOdd003", "not a table");`);
			sim.call(`assert(sim.modulemanager.load(sim.host, "invites_register"))`);
			expect(stanzaError(registerWith(sim, undefined, "alice"))).toEqual(RESERVED);
			const invite = sim.invites.createAccount();
			expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
			expect(sim.logs("error")).toEqual([]);
		});

		test("confirming a reservation fails: a temporary failure, not a free name", () => {
			const sim = sims.create({ version, ...OPEN });
			sim.invites.createAccount("alice");
			registerWith(sim, undefined, "warmup");
			sim.storage.fail("invite_token", "raise");
			expect(stanzaError(registerWith(sim, undefined, "alice"))?.condition).toBe("internal-server-error");
			expect(sim.userExists("alice")).toBe(false);
		});
	});
});
