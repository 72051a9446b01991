// What this module does differently from Prosody's own
// mod_invites_register, shown by running the same scenario against both
// (the stock module is loaded from the installed Prosody, never copied).
// If Prosody fixes one of these, its test here fails and tells us.
import { readFileSync } from "node:fs";
import path from "node:path";
import { prosodySource, prosodyVersions } from "../../harness/server/prosody_sources.js";
import { ProsodySim } from "../../harness/sim/prosody_sim.js";
import { simulators } from "../support/sim_fixture.js";

type Module = "built" | "stock";

describe.each(prosodyVersions)("compared with Prosody %s's stock module", (version) => {
	const sims = simulators();
	// As with allow_registration = true, mod_register_ibr is loaded whatever the mode.
	const modules = ["presence", "register_ibr", "invites_register"];
	// The stock module lets Lua errors escape its hooks: only our module's simulators are held to the invariants.
	const unchecked = (module: Module, config = {}): ProsodySim =>
		module === "built" ? sims.create({ version, module, config, modules }) : ProsodySim.create({ version, module, config, modules });

	function accountsFromOneInviteInOneSession(module: Module): number {
		const sim = unchecked(module);
		const invite = sim.invites.createAccount();
		const client = sim.connect();
		sim.preauth(client, invite.token);
		for (const name of ["one", "two", "three"]) sim.register(client, name);
		return ["one", "two", "three"].filter((name) => sim.userExists(name)).length;
	}

	test("a single-use invite: one account, where the stock module lets its session register several", () => {
		expect(accountsFromOneInviteInOneSession("built")).toBe(1);
		expect(accountsFromOneInviteInOneSession("stock")).toBe(3);
	});

	function resetInviteCreatesOtherAccount(module: Module): boolean {
		const sim = unchecked(module);
		sim.createUser("bob");
		const invite = sim.invites.createReset("bob");
		const client = sim.connect();
		sim.preauth(client, invite.token);
		sim.register(client, "mallory");
		return sim.userExists("mallory");
	}

	// Fixed in Prosody by 13.0.6: its module refuses a reset invite for another username.
	const stockChecksResetName = readFileSync(path.join(prosodySource(version), "modules/mod_invites_register.lua"), "utf8").includes("Incorrect username for password reset");

	const resetTitle = stockChecksResetName
		? "a password reset invite never creates an account; the stock module refuses it too (fixed in this release)"
		: "a password reset invite never creates an account; the stock module creates any";
	test(resetTitle, () => {
		expect(resetInviteCreatesOtherAccount("built")).toBe(false);
		expect(resetInviteCreatesOtherAccount("stock")).toBe(!stockChecksResetName);
	});

	/** A reset invite for alice; alice deleted in the server, her name registered again: does the old invite reset the newcomer's password? */
	function oldResetTakesOverNewcomer(module: Module): boolean {
		const sim = unchecked(module);
		sim.createUser("alice", "hers");
		const reset = sim.invites.createReset("alice");
		sim.deleteUser("alice");
		sim.advance(10);
		const newcomer = sim.connect();
		sim.preauth(newcomer, sim.invites.createAccount().token);
		sim.register(newcomer, "alice", "newcomer");
		const attacker = sim.connect();
		sim.preauth(attacker, reset.token);
		sim.register(attacker, "alice", "taken");
		return sim.testPassword("alice", "taken");
	}

	test("a reset invite dies with its account; the stock module lets it reset whoever registers the name next", () => {
		expect(oldResetTakesOverNewcomer("built")).toBe(false);
		expect(oldResetTakesOverNewcomer("stock")).toBe(true);
	});

	/** A contact invite (ibr=y) of alice, who is deleted: does it still register an account? */
	function deletedInvitersInviteRegisters(module: Module): boolean {
		const sim = unchecked(module);
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", true);
		sim.deleteUser("alice");
		const client = sim.connect();
		sim.preauth(client, invite.token);
		sim.register(client, "bob");
		return sim.userExists("bob");
	}

	test("a deleted user's contact invite registers nobody; the stock module registers with it", () => {
		expect(deletedInvitersInviteRegisters("built")).toBe(false);
		expect(deletedInvitersInviteRegisters("stock")).toBe(true);
	});

	function boundInviteRegistersOtherName(module: Module): boolean {
		const sim = unchecked(module);
		const invite = sim.invites.createAccount("alice");
		const client = sim.connect();
		sim.preauth(client, invite.token);
		sim.register(client, "mallory");
		return sim.userExists("mallory");
	}

	test("an invite for 'alice' registers only alice; the stock module registers any name", () => {
		expect(boundInviteRegistersOtherName("built")).toBe(false);
		expect(boundInviteRegistersOtherName("stock")).toBe(true);
	});

	function offlineInviterLeavesContactPending(module: Module): string | undefined {
		const sim = unchecked(module);
		sim.createUser("alice");
		sim.createUser("bob");
		const invite = sim.invites.createContact("alice", true);
		const bob = sim.login("bob", "laptop", { available: true });
		sim.send(bob, `<presence type='subscribe' to='alice@example.com'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
		const item = sim.rosterItem("bob", "alice@example.com");
		return item && `${item.subscription}${item.ask ? "+ask" : ""}`;
	}

	test("XEP-0379 with the inviter offline: the local contact is subscribed; the stock module leaves it pending", () => {
		expect(offlineInviterLeavesContactPending("built")).toBe("to");
		expect(offlineInviterLeavesContactPending("stock")).toBe("none+ask");
	});

	function contactOnlyInviteErrors(module: Module): { approved: boolean; luaErrors: number } {
		const sim = unchecked(module);
		sim.createUser("alice");
		const invite = sim.invites.createContact("alice", false);
		sim.receiveRemote(`<presence type='subscribe' from='bob@remote.example' to='alice@example.com'><preauth xmlns='urn:xmpp:pars:0' token='${invite.token}'/></presence>`);
		return { approved: sim.rosterItem("alice", "bob@remote.example")?.subscription === "from", luaErrors: sim.errors().length };
	}

	test("XEP-0379 with a contact-only invite is approved without Lua errors", () => {
		expect(contactOnlyInviteErrors("built")).toEqual({ approved: true, luaErrors: 0 });
		// 0.12.3's mod_invites raises an error for these tokens, which the stock module lets escape.
		expect(contactOnlyInviteErrors("stock")).toEqual(version === "0.12" ? { approved: false, luaErrors: 1 } : { approved: true, luaErrors: 0 });
	});

	function misconfiguredInviteOnlyIsOpen(module: Module): boolean {
		const sim = unchecked(module, { registration_invite_only: "yes" });
		sim.register(sim.connect(), "mallory");
		return sim.userExists("mallory");
	}

	test("registration_invite_only = \"yes\" stays invite-only; the stock module opens registration", () => {
		expect(misconfiguredInviteOnlyIsOpen("built")).toBe(false);
		expect(misconfiguredInviteOnlyIsOpen("stock")).toBe(true);
	});
});
