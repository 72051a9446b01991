// An invite never outlives the accounts it names: its creator (the user a
// contact invite belongs to, a local `source`) and the account a reset
// invite resets must still exist, be enabled (13) and be the same account
// (not one registered later under the same name). Deleting an account in
// the server deletes the invites it made and the reset invites for it.
import type { Element } from "ltx";
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

const NO_LONGER_VALID = { type: "cancel", condition: "item-not-found", text: "This invite is no longer valid" };
const REFUSED_VOID = { type: "cancel", condition: "forbidden", text: "This invite is no longer valid" };
const INVALID = { type: "cancel", condition: "item-not-found", text: "The invite token is invalid or has already been used" };

function registerWith(sim: ProsodySim, token: string, username: string, password = "secret"): Element {
	const client = sim.connect();
	expect(sim.preauth(client, token).attrs.type).toBe("result");
	return sim.register(client, username, password);
}

function storedTokens(sim: ProsodySim): string[] {
	return Object.keys((sim.stored("invite_token") as Record<string, unknown> | undefined) ?? {}).sort();
}

describe.each(prosodyVersions)("invites and the accounts they name, on Prosody %s", (version) => {
	const sims = simulators();

	describe("the inviter must still stand", () => {
		test("a contact invite whose user was deleted by another process: <preauth/> says it is no longer valid", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
			expect(sim.logs("info").map((l) => l.message)).toContain("Refusing an invite made by alice: that account no longer exists");
		});

		test("an inviter deleted by another process while signed in: refused (usermanager.user_exists would still say yes)", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			sim.login("alice", "phone", { available: true });
			const invite = sim.invites.createContact("alice", true);
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
		});

		test("a void invite is a real token, not a guess: presenting it costs the session no budget", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.deleteUserElsewhere("alice");
			const client = sim.connect();
			for (let i = 0; i < 6; i++) expect(stanzaError(sim.preauth(client, invite.token))).toEqual(NO_LONGER_VALID);
			expect(sim.sessionField(client, "invites_register_failed_tokens")).toBeUndefined();
		});

		test("a contact invite whose user is deleted after <preauth/>: the registration is refused, no account, nothing in anyone's roster", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			const client = sim.connect();
			expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.register(client, "bob"))).toEqual(REFUSED_VOID);
			expect(sim.userExists("bob")).toBe(false);
			expect(sim.stored("roster", "alice")).toBeUndefined();
			expect(sim.invites.isValid(invite.token)).toBe(true); // refused, not used
		});

		test("an account invite whose local source was deleted: refused at <preauth/> and on the web", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createAccount(undefined, { source: "alice@example.com/phone" });
			expect(sim.webRegister(invite.token, "bob")).toEqual({ outcome: "registered" });
			const second = sim.invites.createAccount(undefined, { source: "alice@example.com/phone" });
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.preauth(sim.connect(), second.token))).toEqual(NO_LONGER_VALID);
			expect(sim.webRegister(second.token, "carol")).toEqual({ outcome: "refused", reason: REFUSED_VOID.text, error: REFUSED_VOID });
			expect(sim.userExists("carol")).toBe(false);
		});

		test.each([
			["made by the admin shell or HTTP API (no source)", undefined],
			["from mod_invites_api", "api/token/1"],
			["from mod_invites_register_web", "mod_invites_register_web"],
			["from a remote user", "alice@remote.example"],
			["naming the host only", "example.com"],
		])("an account invite %s is not affected", (_, source) => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount(undefined, source === undefined ? undefined : { source });
			expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
		});

		test("an invite made by a user who still stands registers, also in the second it was made", () => {
			const sim = sims.create({ version });
			expect(registerWith(sim, sim.invites.createAccount().token, "alice").attrs.type).toBe("result");
			const contact = sim.invites.createContact("alice", true); // the same second as alice's account
			expect(registerWith(sim, contact.token, "bob").attrs.type).toBe("result");
			expect(sim.rosterItem("bob", "alice@example.com")).toMatchObject({ subscription: "both" });
		});

		test("an invite for carla made by a user deleted by another process no longer reserves carla", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const hers = sim.invites.createAccount("carla", { source: "alice@example.com" });
			expect(stanzaError(registerWith(sim, sim.invites.createAccount().token, "carla"))?.condition).toBe("conflict");
			sim.deleteUserElsewhere("alice");
			expect(registerWith(sim, sim.invites.createAccount().token, "carla").attrs.type).toBe("result");
			expect(sim.invites.isValid(hers.token)).toBe(true); // refused when presented, not deleted (no event reached the server)
		});

		test("a failing account check is a temporary failure, not an invalid invite", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.storage.fail("accounts", "raise", "get");
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toMatchObject({ type: "wait", condition: "internal-server-error" });
			sim.storage.fail("accounts", undefined);
			expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
		});
	});

	describe("a password reset invite resets only the account it was made for", () => {
		test("after the account was deleted in the server and its name registered again, the old reset invite takes over nobody", () => {
			const sim = sims.create({ version });
			sim.createUser("alice", "old");
			const reset = sim.invites.createReset("alice");
			sim.deleteUser("alice");
			sim.advance(10);
			expect(registerWith(sim, sim.invites.createAccount().token, "alice", "newcomer").attrs.type).toBe("result");
			const client = sim.connect();
			expect(stanzaError(sim.preauth(client, reset.token))).toEqual(INVALID); // deleted with the account
			expect(stanzaError(sim.register(client, "alice", "taken"))?.condition).toBe("forbidden");
			expect(sim.testPassword("alice", "newcomer")).toBe(true);
		});

		test("after the account was deleted by another process and registered again in the server, the reset invite is void", () => {
			const sim = sims.create({ version });
			sim.createUser("alice", "old");
			const reset = sim.invites.createReset("alice");
			sim.deleteUserElsewhere("alice");
			sim.advance(10);
			expect(registerWith(sim, sim.invites.createAccount().token, "alice", "newcomer").attrs.type).toBe("result");
			expect(stanzaError(sim.preauth(sim.connect(), reset.token))).toEqual(NO_LONGER_VALID);
			expect(sim.testPassword("alice", "newcomer")).toBe(true);
		});

		test("after the account was deleted by another process and registered again on the web, the reset invite is void", () => {
			const sim = sims.create({ version });
			sim.createUser("alice", "old");
			const reset = sim.invites.createReset("alice");
			sim.deleteUserElsewhere("alice");
			sim.advance(10);
			expect(sim.webRegister(sim.invites.createAccount().token, "alice")).toEqual({ outcome: "registered" });
			expect(stanzaError(sim.preauth(sim.connect(), reset.token))).toEqual(NO_LONGER_VALID);
		});

		test("presented before the account was replaced: the reset is refused and the newcomer's password kept", () => {
			const sim = sims.create({ version });
			sim.createUser("alice", "old");
			const reset = sim.invites.createReset("alice");
			const attacker = sim.connect();
			expect(sim.preauth(attacker, reset.token).attrs.type).toBe("result");
			sim.deleteUserElsewhere("alice");
			sim.advance(10);
			expect(registerWith(sim, sim.invites.createAccount().token, "alice", "newcomer").attrs.type).toBe("result");
			expect(stanzaError(sim.register(attacker, "alice", "taken"))).toEqual(REFUSED_VOID);
			expect(sim.testPassword("alice", "newcomer")).toBe(true);
		});

		test("a deleted account's reset invite reserves nothing: a newcomer takes the freed name", () => {
			const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
			sim.createUser("alice");
			const reset = sim.invites.createReset("alice");
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.preauth(sim.connect(), reset.token))).toEqual(NO_LONGER_VALID);
			expect(sim.register(sim.connect(), "alice").attrs.type).toBe("result");
		});

		test("the account it was made for still resets with it", () => {
			const sim = sims.create({ version });
			sim.createUser("alice", "old");
			sim.advance(5);
			const reset = sim.invites.createReset("alice");
			expect(registerWith(sim, reset.token, "alice", "new").attrs.type).toBe("result");
			expect(sim.testPassword("alice", "new")).toBe(true);
		});
	});

	describe("a contact invite of an account whose name was registered again", () => {
		test("does not subscribe its invitee to the newcomer", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const contact = sim.invites.createContact("alice", true);
			sim.deleteUserElsewhere("alice");
			sim.advance(10);
			expect(registerWith(sim, sim.invites.createAccount().token, "alice").attrs.type).toBe("result");
			expect(stanzaError(sim.preauth(sim.connect(), contact.token))).toEqual(NO_LONGER_VALID);
			expect(sim.userExists("bob")).toBe(false);
			expect(sim.stored("roster", "alice")).toBeUndefined();
		});
	});

	describe("invites die with their accounts", () => {
		test("deleting alice deletes her contact invites, the invites with her source and her reset invites, and nothing else", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			sim.createUser("dave");
			const hers = [
				sim.invites.createContact("alice", true),
				sim.invites.createAccount(undefined, { source: "alice@example.com/laptop" }),
				sim.invites.createAccount("carla", { source: "alice@example.com" }),
				sim.invites.createReset("alice"),
			];
			const others = [
				sim.invites.createContact("dave", true),
				sim.invites.createAccount("carol"),
				sim.invites.createAccount(undefined, { source: "dave@example.com" }),
				sim.invites.createReset("dave"),
				sim.invites.createGroup(["crew"], undefined, 3600),
			];
			sim.deleteUser("alice");
			expect(storedTokens(sim)).toEqual(others.map((i) => i.token).sort());
			for (const invite of hers) {
				expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(INVALID);
			}
			// carla is no longer reserved; carol still is
			expect(registerWith(sim, sim.invites.createAccount().token, "carla").attrs.type).toBe("result");
			expect(stanzaError(registerWith(sim, sim.invites.createAccount().token, "carol"))?.condition).toBe("conflict");
			expect(sim.logs("info").map((l) => l.message)).toContain("Account alice was deleted: deleted 4 of the 4 pending invites made by or for it");
		});

		test("a deletion does not read the pending invites: no read of the whole store, the same storage calls with 5 or 50 other invites", () => {
			const calls = (others: number): number => {
				const sim = sims.create({ version });
				sim.createUser("alice");
				sim.invites.createContact("alice", true);
				for (let i = 0; i < others; i++) {
					sim.invites.createAccount(`user${i}`);
				}
				const [before, wholeBefore] = [sim.storageCalls(), sim.wholeReads("invite_token")];
				sim.deleteUser("alice");
				expect(sim.wholeReads("invite_token")).toBe(wholeBefore);
				return sim.storageCalls() - before;
			};
			expect(calls(50)).toBe(calls(5));
		});

		test("an invite the server did not see made (another process) is refused all the same after the deletion", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const token = sim.call(`
				local token = "ElsewhereContactInvite01";
				assert(sim.storage.open(sim.host, "invite_token", "map"):set(nil, token, {
					type = "roster", jid = "alice@" .. sim.host, token = token, allow_registration = true,
					uri = "xmpp:alice@" .. sim.host .. "?roster;preauth=" .. token .. ";ibr=y",
					created_at = sim.now, expires = sim.now + 3600,
				}));
				return token;`) as string;
			sim.tokens.push(token);
			sim.deleteUser("alice");
			expect(stanzaError(sim.preauth(sim.connect(), token))).toEqual(NO_LONGER_VALID);
		});

		test("a deletion whose invite store fails still leaves the invites refused", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.storage.fail("invite_token", "error", "set");
			sim.deleteUser("alice");
			sim.storage.fail("invite_token", undefined);
			expect(storedTokens(sim)).toEqual([invite.token]);
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
		});
	});
});

describe("disabled accounts on Prosody 13", () => {
	const sims = simulators();
	const version = "13" as const;

	test("an invite of a disabled user is refused while disabled, and works again once enabled", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		sim.disableUser("alice");
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
		expect(sim.logs("info").map((l) => l.message)).toContain("Refusing an invite made by alice: that account is disabled");
		expect(storedTokens(sim)).toEqual([invite.token]); // refused, not deleted
		sim.enableUser("alice");
		expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
	});

	test("a user disabled after the invitee's <preauth/>: the registration is refused", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createAccount(undefined, { source: "alice@example.com" });
		const client = sim.connect();
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		sim.disableUser("alice");
		expect(stanzaError(sim.register(client, "bob"))).toEqual(REFUSED_VOID);
		expect(sim.userExists("bob")).toBe(false);
	});

	test("a disabled account's reset invite resets nothing", () => {
		const sim = sims.create({ version });
		sim.createUser("alice", "old");
		const reset = sim.invites.createReset("alice");
		sim.disableUser("alice");
		expect(stanzaError(sim.preauth(sim.connect(), reset.token))).toEqual(NO_LONGER_VALID);
	});

	test("XEP-0379: a disabled user's contact invite pre-approves nothing (the request takes the normal path)", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice");
		sim.disableUser("alice");
		sim.receiveRemote(`<presence type='subscribe' from='bob@remote.example' to='alice@example.com'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
		expect(sim.rosterItem("alice", "bob@remote.example")?.subscription ?? "none").toBe("none");
		expect(sim.pendingIn("alice", "bob@remote.example")).toBe(true);
		expect(sim.stored("invite_token", "alice")).toEqual({ [invite.token]: invite.expires }); // not used
	});
});

// invite_require_inviter_permission: a user-made invite registers only while
// its creator may still invite users (mod_invites_adhoc's permission, which
// its allow_user_invites option gives to prosody:registered or prosody:admin).
describe("invite_require_inviter_permission on Prosody 13", () => {
	const sims = simulators();
	const version = "13" as const;
	/**
	 * What mod_invites_adhoc does when it loads (module:default_permission;
	 * the module itself needs mod_adhoc, which the simulator does not load):
	 * the permission goes to prosody:registered with allow_user_invites, to
	 * prosody:admin without.
	 */
	function withAdhocPermission(sim: ProsodySim, allowUserInvites: boolean): ProsodySim {
		sim.call("sim.prosody.hosts[sim.host].authz.add_default_permission(..., 'invites_adhoc:invite-users')", allowUserInvites ? "prosody:registered" : "prosody:admin");
		return sim;
	}

	function create(config: Record<string, boolean>, allowUserInvites = false): ProsodySim {
		return withAdhocPermission(sims.create({ version, config }), allowUserInvites);
	}

	function aliceInvite(sim: ProsodySim, role: string) {
		sim.createUser("alice");
		sim.call("assert(sim.usermanager.set_user_role('alice', sim.host, ...))", role);
		return sim.invites.createContact("alice", true, { source: "alice@example.com/phone" });
	}

	test("refuses the invites of a user who may no longer invite, accepts them again once they may", () => {
		const sim = create({ invite_require_inviter_permission: true });
		const invite = aliceInvite(sim, "prosody:registered");
		expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
		expect(sim.logs("info").map((l) => l.message)).toContain("Refusing an invite made by alice: that account may no longer invite users");
		sim.call("assert(sim.usermanager.set_user_role('alice', sim.host, 'prosody:admin'))");
		expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
	});

	test("with allow_user_invites, every registered user's invites register", () => {
		const sim = create({ invite_require_inviter_permission: true }, true);
		expect(registerWith(sim, aliceInvite(sim, "prosody:registered").token, "bob").attrs.type).toBe("result");
	});

	test("the permission is checked at registration too", () => {
		const sim = create({ invite_require_inviter_permission: true });
		const invite = aliceInvite(sim, "prosody:admin");
		const client = sim.connect();
		expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
		sim.call("assert(sim.usermanager.set_user_role('alice', sim.host, 'prosody:registered'))");
		expect(stanzaError(sim.register(client, "bob"))).toEqual(REFUSED_VOID);
	});

	test("off by default; admin invites (no local creator) are never affected", () => {
		const off = create({});
		expect(registerWith(off, aliceInvite(off, "prosody:registered").token, "bob").attrs.type).toBe("result");
		const on = create({ invite_require_inviter_permission: true });
		expect(registerWith(on, on.invites.createAccount().token, "carol").attrs.type).toBe("result");
	});
});

// How the accounts an invite names are read, per auth provider: Prosody's
// internal providers through their records (a failed read is told from a
// missing account), any other through usermanager, whose dummy answers for
// what a provider lacks ("method not implemented") mean "cannot tell".
describe.each(prosodyVersions)("reading the accounts an invite names on Prosody %s", (version) => {
	const sims = simulators();

	/** The simulator's provider, taken for one of Prosody's internal providers (its records have their shape). */
	function asInternalProvider(sim: ProsodySim): ProsodySim {
		sim.call("rawset(sim.prosody.hosts[sim.host].users, 'name', 'internal_plain')");
		return sim;
	}

	test("internal provider: an inviter deleted by another process is gone", () => {
		const sim = asInternalProvider(sims.create({ version }));
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
		const second = sim.invites.createContact("alice", true);
		sim.deleteUserElsewhere("alice");
		expect(stanzaError(sim.preauth(sim.connect(), second.token))).toEqual(NO_LONGER_VALID);
	});

	test("internal provider: an accounts store that fails is a temporary failure, and costs no budget", () => {
		const sim = asInternalProvider(sims.create({ version }));
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		sim.storage.fail("accounts", "error", "get");
		const client = sim.connect();
		expect(stanzaError(sim.preauth(client, invite.token))).toMatchObject({ type: "wait", condition: "internal-server-error" });
		sim.storage.fail("accounts", undefined);
		expect(sim.sessionField(client, "invites_register_failed_tokens")).toBeUndefined();
		expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
	});

	if (version !== "0.12") {
		test("internal provider: a disabled inviter's invite is refused, the account record read directly", () => {
			const sim = asInternalProvider(sims.create({ version }));
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.disableUser("alice");
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual(NO_LONGER_VALID);
		});

		test("a provider without account info (as LDAP): invites of an existing user work, of a missing one do not", () => {
			const sim = sims.create({ version });
			sim.call("local p = sim.prosody.hosts[sim.host].users; rawset(p, 'get_account_info', nil); rawset(p, 'is_enabled', nil)");
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			expect(registerWith(sim, invite.token, "bob").attrs.type).toBe("result");
			const second = sim.invites.createContact("alice", true);
			sim.deleteUserElsewhere("alice");
			expect(stanzaError(sim.preauth(sim.connect(), second.token))).toEqual(NO_LONGER_VALID);
		});
	}

	test("an account deleted in the server and created again without a creation time (shell user:create): the old invites stay void", () => {
		const sim = sims.create({ version });
		sim.createUser("alice", "old");
		// Written by another process: the server's index does not know it, so the deletion cannot delete it.
		const token = sim.call(`
			local token = "ElsewhereResetInvite0001";
			assert(sim.storage.open(sim.host, "invite_token", "map"):set(nil, token, {
				type = "register", jid = "alice@" .. sim.host, token = token, allow_registration = true,
				additional_data = { allow_reset = "alice" }, uri = "xmpp:alice@" .. sim.host .. "?register;preauth=" .. token,
				created_at = sim.now, expires = sim.now + 3600,
			}));
			return token;`) as string;
		sim.tokens.push(token);
		sim.advance(5);
		sim.deleteUser("alice");
		sim.call("sim.storage.open(sim.host, 'accounts'):set('alice', { password = 'newcomer' })"); // no creation time anywhere
		expect(sim.userExists("alice")).toBe(true);
		expect(stanzaError(sim.preauth(sim.connect(), token))).toEqual(NO_LONGER_VALID);
		expect(sim.testPassword("alice", "newcomer")).toBe(true);
	});

	test("a deletion under another spelling of the name (user-deleted with 'ALICE') still deletes alice's invites", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		sim.call("sim.prosody.events.fire_event('user-deleted', { username = 'ALICE', host = sim.host })");
		expect(storedTokens(sim)).not.toContain(invite.token);
	});
});
