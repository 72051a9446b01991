// user-registered: what an invite carries is applied to the new account —
// mutual subscription with the inviter, roles, groups — each step on its
// own, so that one failing does not undo or skip the others.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim, Session } from "../../harness/sim/prosody_sim.js";
import { named } from "../../harness/clients/stanzas.js";

function registerWith(sim: ProsodySim, token: string, username: string): Session {
	const client = sim.connect();
	expect(sim.preauth(client, token).attrs.type).toBe("result");
	expect(sim.register(client, username).attrs.type).toBe("result");
	return client;
}

describe.each(prosodyVersions)("after registration on Prosody %s", (version) => {
	const sims = simulators();

	describe("a contact invite with registration (ibr=y)", () => {
		test("makes the new user and the inviter subscribed to each other", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			expect(invite.uri).toContain("ibr=y");
			registerWith(sim, invite.token, "bob");
			expect(sim.rosterItem("alice", "bob@example.com")).toMatchObject({ subscription: "both" });
			expect(sim.rosterItem("bob", "alice@example.com")).toMatchObject({ subscription: "both" });
			expect(sim.rosterItem("alice", "bob@example.com")?.ask).toBeUndefined();
			expect(sim.invites.isValid(invite.token)).toBe(false);
		});

		test("pushes the new contact to the inviter's online clients", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const alicePhone = sim.login("alice", "phone");
			const invite = sim.invites.createContact("alice", true);
			registerWith(sim, invite.token, "bob");
			const pushes = named(sim.take(alicePhone), "iq", "set")
				.map((iq) => iq.getChild("query", "jabber:iq:roster")?.getChild("item"))
				.filter((item) => item?.attrs.jid === "bob@example.com");
			expect(pushes.length).toBeGreaterThan(0);
			expect(pushes[pushes.length - 1]?.attrs.subscription).toBe("both");
		});

		test("also removes the invite from the inviter's contact invites", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			registerWith(sim, invite.token, "bob");
			expect(sim.stored("invite_token", "alice")).toBeUndefined();
		});

		test("registers nobody when the inviter's account is gone (the invite went with it)", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.call(`assert(sim.usermanager.delete_user("alice", sim.host))`);
			const client = sim.connect();
			expect(sim.preauth(client, invite.token).attrs.type).toBe("error");
			expect(sim.register(client, "bob").attrs.type).toBe("error");
			expect(sim.userExists("bob")).toBe(false);
			expect(sim.rosterItem("bob", "alice@example.com")).toBeUndefined();
		});

	});

	describe("roles", () => {
		if (version === "0.12") {
			test("a role set (0.12's shape) becomes the user's roles", () => {
				const sim = sims.create({ version });
				const invite = sim.invites.createAccount(undefined, { roles: { "prosody:admin": true } });
				registerWith(sim, invite.token, "root");
				expect(sim.rolesOf("root")).toEqual({ set: ["prosody:admin"] });
				expect(sim.stored("roles", "root")).toEqual({ "prosody:admin": true });
			});

			test("a role list (13's shape) is stored as a set", () => {
				const sim = sims.create({ version });
				const invite = sim.invites.createAccount(undefined, { roles: ["prosody:admin", "custom:helper"] });
				registerWith(sim, invite.token, "root");
				expect(sim.rolesOf("root")).toEqual({ set: ["custom:helper", "prosody:admin"] });
			});
		} else {
			test("a role list (13's shape) sets the primary role, then secondary roles", () => {
				const sim = sims.create({ version });
				const invite = sim.invites.createAccount(undefined, { roles: ["prosody:member", "prosody:admin"] });
				registerWith(sim, invite.token, "root");
				expect(sim.rolesOf("root")).toEqual({ primary: "prosody:member", secondary: ["prosody:admin"] });
			});

			test("a role set (0.12's shape) makes the most privileged role primary", () => {
				const sim = sims.create({ version });
				const invite = sim.invites.createAccount(undefined, { roles: { "prosody:member": true, "prosody:admin": true } });
				registerWith(sim, invite.token, "root");
				expect(sim.rolesOf("root")).toEqual({ primary: "prosody:admin", secondary: ["prosody:member"] });
			});

			test("an unknown role is logged and skipped; the others are still applied", () => {
				const sim = sims.create({ version });
				const invite = sim.invites.createAccount(undefined, { roles: ["prosody:admin", "no:such-role", "prosody:member"] });
				registerWith(sim, invite.token, "root");
				expect(sim.rolesOf("root")).toEqual({ primary: "prosody:admin", secondary: ["prosody:member"] });
				expect(sim.logs("warn").some((e) => e.message.includes("no:such-role"))).toBe(true);
			});
		}

		test("an invite without roles leaves the default role", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			registerWith(sim, invite.token, "plain");
			expect(sim.rolesOf("plain")).toEqual(version === "0.12" ? { set: [] } : { primary: "prosody:registered", secondary: [] });
		});
	});

	describe("groups", () => {
		test("the new user joins every group of the invite", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createGroup(["crew", "ops"]);
			registerWith(sim, invite.token, "alice");
			expect(sim.stored("groups", "crew")).toEqual({ alice: true });
			expect(sim.stored("groups", "ops")).toEqual({ alice: true });
		});

		test("groups and roles both apply when the invite carries both", () => {
			const sim = sims.create({ version });
			const roles = version === "0.12" ? { "prosody:admin": true } : ["prosody:admin"];
			const invite = sim.invites.createGroup(["crew"], { roles });
			registerWith(sim, invite.token, "alice");
			expect(sim.stored("groups", "crew")).toEqual({ alice: true });
			expect(sim.rolesOf("alice")).toMatchObject(version === "0.12" ? { set: ["prosody:admin"] } : { primary: "prosody:admin" });
		});
	});

	describe("when a step fails", () => {
		test("a storage failure while adding groups is logged; the account, invite use and roles stand", () => {
			const sim = sims.create({ version });
			const roles = version === "0.12" ? { "prosody:admin": true } : ["prosody:admin"];
			const invite = sim.invites.createGroup(["crew"], { roles });
			sim.storage.fail("groups", "raise");
			registerWith(sim, invite.token, "alice");
			expect(sim.userExists("alice")).toBe(true);
			expect(sim.invites.isValid(invite.token)).toBe(false);
			expect(sim.rolesOf("alice")).toMatchObject(version === "0.12" ? { set: ["prosody:admin"] } : { primary: "prosody:admin" });
			expect(sim.logs("error").some((e) => e.message.includes("Could not add alice to the groups"))).toBe(true);
		});

		test("a storage failure while setting roles is logged; the groups are still joined", () => {
			const sim = sims.create({ version });
			const roles = version === "0.12" ? { "prosody:admin": true } : ["prosody:admin"];
			const invite = sim.invites.createGroup(["crew"], { roles });
			// Fail once the account exists (on 13, creating it stores its default role).
			sim.call(`
				local store = ...;
				sim.prosody.hosts[sim.host].events.add_handler("user-registered", function () sim.storage:fail(store, "error"); end, 100);`,
				version === "0.12" ? "roles" : "account_roles");
			registerWith(sim, invite.token, "alice");
			expect(sim.stored("groups", "crew")).toEqual({ alice: true });
			expect(sim.logs("error").some((e) => e.message.includes("role") && e.message.includes("alice"))).toBe(true);
		});

		test("a roster failure while subscribing to the inviter is logged; the account stands", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createContact("alice", true);
			sim.storage.fail("roster", "raise");
			registerWith(sim, invite.token, "bob");
			expect(sim.userExists("bob")).toBe(true);
			expect(sim.invites.isValid(invite.token)).toBe(false);
			expect(sim.logs("error").some((e) => e.message.includes("subscribe bob and their inviter alice"))).toBe(true);
		});
	});

	describe("a password reset", () => {
		test("uses the invite through user-password-reset", () => {
			const sim = sims.create({ version });
			sim.createUser("bob", "old");
			const invite = sim.invites.createReset("bob");
			const fired = sim.call(`
				local fired = {};
				sim.prosody.hosts[sim.host].events.add_handler("user-password-reset", function (e) fired[#fired + 1] = e.username; end, -100);
				_G.__fired = fired;`);
			void fired;
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "bob", "new").attrs.type).toBe("result");
			expect(sim.call("return _G.__fired")).toEqual(["bob"]);
			expect(sim.invites.isValid(invite.token)).toBe(false);
			// a second reset with the same invite is refused
			const again = sim.connect();
			expect(sim.preauth(again, invite.token).attrs.type).toBe("error");
		});
	});
});
