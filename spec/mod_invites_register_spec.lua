-- Busted specs for the built module (dist-lua/mod_invites_register.lua),
-- run in the simulated Prosody of harness/sim/prosody_sim. They run under
-- Debian's busted (Lua 5.1, Prosody 0.12) and, through
-- spec/support/busted_compat.lua, under fengari in jest (Lua 5.3, Prosody
-- 0.12 and 13): the same assertions (luassert) on both.
local Sim = require "prosody_sim";

-- Under jest, spec/busted/busted_specs.test.ts sets PROSODY_SOURCES (fengari has no io.open).
local given = rawget(_G, "PROSODY_SOURCES") or {};
local sources = {
	-- 0.12 unpacked (on trixie, whose own Prosody is 13), else bookworm's installed package.
	["0.12"] = given["0.12"] or os.getenv("PROSODY_012_SOURCE")
		or (io.open(".cache/prosody-0.12/usr/lib/prosody/prosody.version") and ".cache/prosody-0.12/usr/lib/prosody")
		or "/usr/lib/prosody",
	["13"] = given["13"] or os.getenv("PROSODY_13_SOURCE") or ".cache/prosody-13/usr/lib/prosody",
};
-- Prosody 13 requires Lua 5.2 or later.
local versions = _VERSION == "Lua 5.1" and { "0.12" } or { "0.12", "13" };
-- Coroutines can yield across pcall everywhere but in PUC Lua 5.1.
local can_yield_in_pcall = _VERSION ~= "Lua 5.1" or rawget(_G, "jit") ~= nil;

local NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

local function condition(reply)
	local err = reply and reply:get_child("error");
	if not err then return nil; end
	for _, child in ipairs(err.tags) do
		if child.attr.xmlns == NS_STANZAS and child.name ~= "text" then return child.name; end
	end
end

for _, version in ipairs(versions) do
	describe("mod_invites_register on Prosody " .. version, function ()
		local sim;

		before_each(function ()
			sim = Sim.new({
				source = sources[version],
				version = version,
				plugin_paths = { "dist-lua" },
				strict_globals = { "invites_register" },
			});
		end);

		after_each(function ()
			-- No Lua error escaped a hook.
			assert.same({}, sim.errors);
		end);

		local function invites() return sim:module("invites"); end

		describe("preauth", function ()
			it("accepts a valid token and remembers the invite on the session", function ()
				local invite = assert(invites().create_account());
				local client = sim:connect();
				local reply = sim:preauth(client, invite.token);
				assert.equal("result", reply.attr.type);
				assert.equal(invite.token, client.validated_invite.token);
			end);

			it("refuses an unknown token with item-not-found (XEP-0445)", function ()
				local client = sim:connect();
				local reply = sim:preauth(client, "NeverIssuedNeverIssued00");
				assert.equal("item-not-found", condition(reply));
				assert.is_nil(client.validated_invite);
			end);

			it("answers a missing token with bad-request", function ()
				local client = sim:connect();
				local iq = sim.st.iq({ type = "set", id = "p" }):tag("preauth", { xmlns = "urn:xmpp:pars:0" }):up();
				assert.equal("bad-request", condition(sim:send(client, iq)[1]));
			end);

			it("takes a get as a set, as Prosody's own module does", function ()
				local invite = assert(invites().create_account());
				local client = sim:connect();
				local replies = sim:send(client, sim:preauth_iq(invite.token, "get"));
				assert.equal("result", replies[1].attr.type);
				assert.equal(invite.token, client.validated_invite.token);
			end);
		end);

		describe("registration", function ()
			it("is refused without an invite in invite-only mode", function ()
				local reply = sim:register(sim:connect(), "mallory");
				assert.equal("forbidden", condition(reply));
				assert.is_false(sim:user_exists("mallory"));
			end);

			it("creates the account with an invite, and uses the invite", function ()
				local invite = assert(invites().create_account());
				local client = sim:connect();
				sim:preauth(client, invite.token);
				assert.equal("result", sim:register(client, "alice").attr.type);
				assert.is_true(sim:user_exists("alice"));
				assert.is_nil((invites().get(invite.token)));
			end);

			it("registers only the username an invite was made for", function ()
				local invite = assert(invites().create_account("alice"));
				local client = sim:connect();
				sim:preauth(client, invite.token);
				assert.equal("not-acceptable", condition(sim:register(client, "mallory")));
				assert.equal("result", sim:register(client, "alice").attr.type);
			end);

			it("never creates an account with a password reset invite", function ()
				assert(sim:create_user("bob"));
				local invite = assert(invites().create_account_reset("bob"));
				local client = sim:connect();
				sim:preauth(client, invite.token);
				assert.equal("not-acceptable", condition(sim:register(client, "mallory")));
				assert.is_false(sim:user_exists("mallory"));
			end);

			it("cannot register twice from one session with a single-use invite", function ()
				local invite = assert(invites().create_account());
				local client = sim:connect();
				sim:preauth(client, invite.token);
				sim:register(client, "alice");
				assert.equal("forbidden", condition(sim:register(client, "alice2")));
				assert.is_false(sim:user_exists("alice2"));
			end);

			it("creates one account when two sessions race one single-use invite", function ()
				if not can_yield_in_pcall then
					pending("storage that yields inside pcall needs Lua 5.2+ or LuaJIT");
				end
				local invite = assert(invites().create_account());
				local a, b = sim:connect(), sim:connect();
				sim:preauth(a, invite.token);
				sim:preauth(b, invite.token);
				sim.storage.yielding = true;
				sim:submit(a, sim:register_iq("alice", "pw"));
				sim:submit(b, sim:register_iq("bob", "pw"));
				sim:run();
				local created = (sim:user_exists("alice") and 1 or 0) + (sim:user_exists("bob") and 1 or 0);
				assert.equal(1, created);
			end);
		end);

		describe("after registration", function ()
			it("subscribes the new user and the inviter to each other", function ()
				assert(sim:create_user("alice"));
				local invite = assert(invites().create_contact("alice", true));
				local client = sim:connect();
				sim:preauth(client, invite.token);
				assert.equal("result", sim:register(client, "bob").attr.type);
				assert.equal("both", sim:roster_item("alice", "bob@example.com").subscription);
				assert.equal("both", sim:roster_item("bob", "alice@example.com").subscription);
			end);

			it("adds the new user to the invite's groups", function ()
				local invite = assert(invites().create_group({ "crew" }));
				local client = sim:connect();
				sim:preauth(client, invite.token);
				sim:register(client, "alice");
				assert.same({ alice = true }, sim.storage:peek(sim.host, "groups", "crew"));
			end);
		end);

		describe("XEP-0379", function ()
			local function subscribe(token)
				return sim.st.presence({ type = "subscribe", from = "bob@remote.example", to = "alice@example.com" })
					:tag("preauth", { xmlns = "urn:xmpp:pars:0", token = token }):up();
			end

			it("approves a request carrying the user's token while the user is offline", function ()
				assert(sim:create_user("alice"));
				local invite = assert(invites().create_contact("alice", false));
				sim:receive_remote(subscribe(invite.token));
				local item = sim:roster_item("alice", "bob@remote.example");
				assert.equal("from", item.subscription);
				assert.equal("subscribe", item.ask);
				local subscribed = false;
				for _, stanza in ipairs(sim:take_remote()) do
					if stanza.attr.type == "subscribed" then subscribed = true; end
				end
				assert.is_true(subscribed);
			end);

			it("leaves a request with an unknown token to mod_presence", function ()
				assert(sim:create_user("alice"));
				sim:receive_remote(subscribe("NeverIssuedNeverIssued00"));
				assert.is_nil(sim:roster_item("alice", "bob@remote.example"));
				assert.is_true(sim:pending_in("alice", "bob@remote.example"));
			end);
		end);
	end);
end
