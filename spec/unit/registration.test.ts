// user-registering: who may register with which invite. An invite is
// re-checked when the account is about to be created (used or deleted
// since <preauth/>; its expiry only at <preauth/>, XEP-0445 §4), is bound
// to its username, and a single-use invite never creates two accounts.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";

describe.each(prosodyVersions)("registration on Prosody %s", (version) => {
	const sims = simulators();

	describe("without an invite", () => {
		test("is refused in invite-only mode with a clear reason", () => {
			const sim = sims.create({ version });
			const reply = sim.register(sim.connect(), "mallory");
			expect(stanzaError(reply)).toEqual({ type: "cancel", condition: "forbidden", text: "Registration on this server is through invitation only" });
			expect(sim.userExists("mallory")).toBe(false);
		});

		test("is allowed when registration is open", () => {
			const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
			expect(sim.register(sim.connect(), "bob").attrs.type).toBe("result");
			expect(sim.userExists("bob")).toBe(true);
		});
	});

	describe("with a valid invite", () => {
		test("creates the account and uses the invite", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
			expect(sim.register(client, "alice", "s3cret").attrs.type).toBe("result");
			expect(sim.userExists("alice")).toBe(true);
			expect(sim.testPassword("alice", "s3cret")).toBe(true);
			expect(sim.invites.isValid(invite.token)).toBe(false);
		});

		test("in open mode, an invite is still used (and what it carries applied)", () => {
			const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
			const invite = sim.invites.createGroup(["crew"]);
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "alice").attrs.type).toBe("result");
			expect(sim.invites.isValid(invite.token)).toBe(false);
			expect(sim.stored("groups", "crew")).toEqual({ alice: true });
		});

		test("a reusable invite registers several accounts", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createGroup(["crew"], undefined, 3600);
			for (const name of ["ann", "ben", "cat"]) {
				const client = sim.connect();
				sim.preauth(client, invite.token);
				expect(sim.register(client, name).attrs.type).toBe("result");
			}
			expect(sim.invites.isValid(invite.token)).toBe(true);
			expect(sim.stored("groups", "crew")).toEqual({ ann: true, ben: true, cat: true });
		});
	});

	describe("an invite that is no longer valid at registration", () => {
		test("revoked after expiring: refused, no account", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount(undefined, undefined, 60);
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.advance(61);
			sim.invites.delete(invite.token);
			expect(stanzaError(sim.register(client, "alice"))).toEqual({ type: "cancel", condition: "forbidden", text: "The invite is invalid or has already been used" });
			expect(sim.userExists("alice")).toBe(false);
		});

		test("revoked since <preauth/>: refused, no account", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.invites.delete(invite.token);
			expect(stanzaError(sim.register(client, "alice"))?.condition).toBe("forbidden");
			expect(sim.userExists("alice")).toBe(false);
		});

		test("revoked, in open mode: refused rather than registered without what the invite carried", () => {
			const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.invites.delete(invite.token);
			expect(stanzaError(sim.register(client, "alice"))?.condition).toBe("forbidden");
		});

		test("when storage fails re-reading it: internal-server-error, no account", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.storage.fail("invite_token", "raise");
			expect(stanzaError(sim.register(client, "alice"))).toMatchObject({ type: "wait", condition: "internal-server-error" });
			expect(sim.userExists("alice")).toBe(false);
			sim.storage.fail("invite_token", undefined);
			expect(sim.invites.isValid(invite.token)).toBe(true);
		});
	});

	// XEP-0445 §4: expiry "MUST only be checked" at <preauth/>; later actions
	// of the session "MUST NOT be rejected due to token expiry".
	describe("an invite that expires between <preauth/> and the registration form", () => {
		test("still registers the session that presented it, bound to its username, and is used", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount("alice", { groups: ["crew"], roles: ["prosody:admin"] }, 60);
			const client = sim.connect();
			expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
			sim.advance(61);
			expect(stanzaError(sim.register(client, "mallory"))).toEqual({ type: "modify", condition: "not-acceptable", text: "This invite is only valid for the username 'alice'" });
			expect(sim.register(client, "alice").attrs.type).toBe("result");
			expect(sim.stored("groups", "crew")).toEqual({ alice: true });
			expect(sim.rolesOf("alice")).toEqual(version === "0.12" ? { set: ["prosody:admin"] } : { primary: "prosody:admin", secondary: [] });
			expect(sim.stored("invite_token")).toBeUndefined(); // used: deleted from the store
			expect(sim.preauth(sim.connect(), invite.token).attrs.type).toBe("error");
		});

		test("a contact invite still subscribes the new user and the inviter", () => {
			const sim = sims.create({ version });
			sim.createUser("carol");
			const invite = sim.invites.createContact("carol", true, undefined, 60);
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.advance(61);
			expect(sim.register(client, "dave").attrs.type).toBe("result");
			expect(sim.rosterItem("carol", "dave@example.com")).toMatchObject({ subscription: "both" });
			expect(sim.rosterItem("dave", "carol@example.com")).toMatchObject({ subscription: "both" });
		});

		test("a reset invite still resets only its own account", () => {
			const sim = sims.create({ version, modules: ["presence", "register_ibr", "invites_register"] });
			sim.createUser("alice", "old");
			const invite = sim.invites.createReset("alice", 60);
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.advance(61);
			expect(sim.register(client, "bob").attrs.type).toBe("error");
			expect(sim.register(client, "alice", "new").attrs.type).toBe("result");
			expect(sim.testPassword("alice", "new")).toBe(true);
			expect(sim.userExists("bob")).toBe(false);
		});

		test("a new session with the expired token is refused at <preauth/>", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount(undefined, undefined, 60);
			sim.preauth(sim.connect(), invite.token);
			sim.advance(61);
			const late = sim.connect();
			expect(sim.preauth(late, invite.token).attrs.type).toBe("error");
			expect(stanzaError(sim.register(late, "alice"))?.condition).toBe("forbidden");
			expect(sim.userExists("alice")).toBe(false);
		});
	});

	describe("an invite for a specific username", () => {
		test("registers that username", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount("alice");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "alice").attrs.type).toBe("result");
		});

		test("refuses any other username, and stays valid", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount("alice");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(stanzaError(sim.register(client, "mallory"))).toEqual({
				type: "modify",
				condition: "not-acceptable",
				text: "This invite is only valid for the username 'alice'",
			});
			expect(sim.userExists("mallory")).toBe(false);
			expect(sim.invites.isValid(invite.token)).toBe(true);
			expect(sim.register(client, "alice").attrs.type).toBe("result");
		});

		test("compares usernames as Prosody does (case-insensitively)", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount("Alice");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "ALICE").attrs.type).toBe("result");
			expect(sim.userExists("alice")).toBe(true);
		});
	});

	describe("a password reset invite", () => {
		test("resets the password of its own account and is used", () => {
			const sim = sims.create({ version });
			sim.createUser("bob", "forgotten");
			const invite = sim.invites.createReset("bob");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "bob", "n3w").attrs.type).toBe("result");
			expect(sim.testPassword("bob", "n3w")).toBe(true);
			expect(sim.invites.isValid(invite.token)).toBe(false);
		});

		test("never creates another account", () => {
			const sim = sims.create({ version });
			sim.createUser("bob", "forgotten");
			const invite = sim.invites.createReset("bob");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(stanzaError(sim.register(client, "mallory"))).toEqual({
				type: "modify",
				condition: "not-acceptable",
				text: "This invite is only for the account 'bob'",
			});
			expect(sim.userExists("mallory")).toBe(false);
			expect(sim.testPassword("bob", "forgotten")).toBe(true);
		});

		test("for an account that does not exist: refused at <preauth/>", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createReset("bob");
			expect(stanzaError(sim.preauth(sim.connect(), invite.token))).toEqual({ type: "cancel", condition: "item-not-found", text: "This invite is no longer valid" });
		});

		test("does not create its own account when it no longer exists", () => {
			const sim = sims.create({ version });
			sim.createUser("bob");
			const invite = sim.invites.createReset("bob");
			const client = sim.connect();
			expect(sim.preauth(client, invite.token).attrs.type).toBe("result");
			sim.deleteUserElsewhere("bob");
			expect(stanzaError(sim.register(client, "bob"))).toEqual({ type: "cancel", condition: "item-not-found", text: "There is no account 'bob' to reset" });
			expect(sim.userExists("bob")).toBe(false);
		});

		test("cannot reset another account's password", () => {
			const sim = sims.create({ version });
			sim.createUser("bob", "forgotten");
			sim.createUser("carol", "hers");
			const invite = sim.invites.createReset("bob");
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(stanzaError(sim.register(client, "carol", "stolen"))?.condition).toBe("not-acceptable");
			expect(sim.testPassword("carol", "hers")).toBe(true);
		});
	});

	describe("an existing username", () => {
		test("is refused with conflict, and the invite stays free for another registration", () => {
			const sim = sims.create({ version });
			sim.createUser("alice");
			const invite = sim.invites.createAccount();
			const first = sim.connect();
			sim.preauth(first, invite.token);
			expect(stanzaError(sim.register(first, "alice"))).toMatchObject({ type: "cancel", condition: "conflict" });
			const second = sim.connect();
			sim.preauth(second, invite.token);
			expect(sim.register(second, "alice2").attrs.type).toBe("result");
		});
	});

	describe("a single-use invite", () => {
		test("cannot register a second account from the same session", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			sim.preauth(client, invite.token);
			expect(sim.register(client, "alice").attrs.type).toBe("result");
			expect(stanzaError(sim.register(client, "alice2"))?.condition).toBe("forbidden");
			expect(sim.userExists("alice2")).toBe(false);
		});

		test("cannot register a second account from another session that presented it earlier", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			const b = sim.connect();
			sim.preauth(a, invite.token);
			sim.preauth(b, invite.token);
			expect(sim.register(a, "alice").attrs.type).toBe("result");
			expect(stanzaError(sim.register(b, "bob"))?.condition).toBe("forbidden");
			expect(sim.userExists("bob")).toBe(false);
		});

		test("creates one account when two sessions register at once and storage yields between every step", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			const b = sim.connect();
			sim.preauth(a, invite.token);
			sim.preauth(b, invite.token);
			sim.storage.setYielding(true);
			sim.submit(a, sim.registerIq("alice"));
			sim.submit(b, sim.registerIq("bob"));
			sim.run();
			const replies = [...sim.take(a), ...sim.take(b)];
			expect(replies.map((r) => r.attrs.type).sort()).toEqual(["error", "result"]);
			expect([sim.userExists("alice"), sim.userExists("bob")].filter(Boolean)).toHaveLength(1);
			expect(sim.invites.isValid(invite.token)).toBe(false);
			const refusal = stanzaError(replies.find((r) => r.attrs.type === "error"));
			expect(refusal).toEqual({
				type: "wait",
				condition: "resource-constraint",
				text: "This invite is being used by another registration, please try again later",
			});
		});

		test("whose registration failed stays claimed while its session is open, and is free once it closes", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			const b = sim.connect();
			sim.preauth(a, invite.token);
			sim.preauth(b, invite.token);
			sim.storage.fail("accounts", "error", "set"); // account creation fails after the check
			expect(sim.register(a, "alice").attrs.type).toBe("error");
			sim.storage.fail("accounts", undefined);
			expect(stanzaError(sim.register(b, "bob"))?.condition).toBe("resource-constraint");
			sim.close(a);
			expect(sim.register(b, "bob").attrs.type).toBe("result");
			expect(sim.userExists("alice")).toBe(false);
		});

		test("whose registration failed can be retried by the same session", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			sim.preauth(a, invite.token);
			sim.storage.fail("accounts", "error", "set");
			expect(sim.register(a, "alice").attrs.type).toBe("error");
			sim.storage.fail("accounts", undefined);
			expect(sim.register(a, "alice").attrs.type).toBe("result");
		});

		test("is released when its session presents another invite", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const other = sim.invites.createAccount();
			const a = sim.connect();
			const b = sim.connect();
			sim.preauth(a, invite.token);
			sim.preauth(b, invite.token);
			sim.storage.fail("accounts", "error", "set");
			sim.register(a, "alice");
			sim.storage.fail("accounts", undefined);
			sim.preauth(a, other.token);
			expect(sim.register(b, "bob").attrs.type).toBe("result");
		});

		test("whose deletion fails silently in storage is still never used twice", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			sim.preauth(a, invite.token);
			sim.storage.fail("invite_token", "error", "set"); // mod_invites ignores this failure
			expect(sim.register(a, "alice").attrs.type).toBe("result");
			sim.storage.fail("invite_token", undefined);
			expect(sim.invites.isValid(invite.token)).toBe(true); // still in storage...
			const b = sim.connect();
			sim.preauth(b, invite.token);
			expect(stanzaError(sim.register(b, "bob"))?.condition).toBe("forbidden"); // ...but refused
			expect(sim.userExists("bob")).toBe(false);
		});

		test("whose deletion failed stays refused after a generation of later invites were used", () => {
			// The module remembers used tokens in two generations of
			// invites_register_used_tokens_generation tokens (default 4096): a
			// small generation reaches the turnover in a few registrations.
			const generation = 16;
			const sim = sims.create({ version, config: { invites_register_used_tokens_generation: generation } });
			const invite = sim.invites.createAccount();
			const a = sim.connect();
			sim.preauth(a, invite.token);
			sim.storage.fail("invite_token", "error", "set");
			expect(sim.register(a, "alice").attrs.type).toBe("result");
			sim.storage.fail("invite_token", undefined);
			// A generation of registrations more, as a web registration module fires them.
			const registered = sim.call(`
				local generation = ...;
				local events = sim.prosody.hosts[sim.host].events;
				local invites = sim:module("invites");
				local count = 0;
				for i = 1, generation do
					local invite = invites.get(invites.create_account().token);
					local username = "user" .. i;
					local registering = { username = username, host = sim.host, validated_invite = invite, allowed = true };
					events.fire_event("user-registering", registering);
					if registering.allowed and sim:create_user(username) then
						events.fire_event("user-registered", { username = username, host = sim.host, validated_invite = invite, source = "web" });
						count = count + 1;
					end
				end
				return count;`, generation);
			expect(registered).toBe(generation);
			const b = sim.connect();
			sim.preauth(b, invite.token);
			expect(stanzaError(sim.register(b, "bob"))?.condition).toBe("forbidden");
			expect(sim.userExists("bob")).toBe(false);
		});
	});

	describe("registration without a session (web registration modules)", () => {
		test("uses the invite passed in the event", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const outcome = sim.call(`
				local token = ...;
				local events = sim.prosody.hosts[sim.host].events;
				local invite = sim:module("invites").get(token);
				local registering = { username = "webby", host = sim.host, validated_invite = invite, allowed = true };
				events.fire_event("user-registering", registering);
				if not registering.allowed then return registering.reason; end
				assert(sim:create_user("webby"));
				events.fire_event("user-registered", { username = "webby", host = sim.host, validated_invite = invite, source = "web" });
				return "registered";`, invite.token);
			expect(outcome).toBe("registered");
			expect(sim.invites.isValid(invite.token)).toBe(false);
		});

		test("is refused a single-use invite another registration holds", () => {
			const sim = sims.create({ version });
			const invite = sim.invites.createAccount();
			const client = sim.connect();
			sim.preauth(client, invite.token);
			sim.storage.fail("accounts", "error", "set");
			sim.register(client, "alice"); // fails after claiming the invite
			sim.storage.fail("accounts", undefined);
			const reason = sim.call(`
				local token = ...;
				local registering = { username = "webby", host = sim.host, validated_invite = sim:module("invites").get(token), allowed = true };
				sim.prosody.hosts[sim.host].events.fire_event("user-registering", registering);
				return registering.allowed and "allowed" or registering.reason;`, invite.token);
			expect(reason).toBe("This invite is being used by another registration, please try again later");
		});
	});
});
