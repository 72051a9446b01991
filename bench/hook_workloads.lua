-- The workloads of bench/hooks.lua, and the simulated hosts they run in:
-- each workload's prepare(sim, n) does the untimed setup for n calls and
-- returns run(), which makes the n calls, with events shaped as Prosody
-- shapes them (or measure(sim, n) times them itself). Loaded by the runner
-- with what it was started with:
--
--   loadfile("bench/hook_workloads.lua")(Sim, source, version, dist, rounds)
--     -> { workloads = …, make_subjects = …, default_subjects = … }
local Sim, source, version, dist, rounds = ...;
local clock = os.clock;

local function new_sim(plugin_paths, config)
	return Sim.new({ source = source, version = version, plugin_paths = plugin_paths, config = config, log_levels = { "info", "warn", "error" } });
end

-- "control" is a second copy of the stock module in a third host: its
-- ratio to "stock" is what the method reads as a difference when there is
-- none (an A/A test), the noise floor for the ours/stock ratios.
-- `pending`: that many pending account invites in each host's store;
-- `roster`: that many contacts in the roster of the user "alice".
local ROSTER_USER = "alice";
local function make_subjects(config, pending, roster)
	local list = {
		{ name = "ours", sim = new_sim({ dist }, config) },
		{ name = "stock", sim = new_sim({}, config) },
		{ name = "control", sim = new_sim({}, config) },
	};
	for _, subject in ipairs(list) do
		local sim = subject.sim;
		local invites = sim:module("invites");
		for _ = 1, pending or 0 do assert(invites.create_account()); end
		if roster then
			assert(sim:create_user(ROSTER_USER));
			-- As Prosody stores a roster: contacts by JID, metadata under false.
			local items = { [false] = { version = 1, pending = {} } };
			for k = 1, roster do
				items["contact" .. k .. "@remote.example"] = { subscription = "both", groups = {}, name = "Contact " .. k };
			end
			assert(sim.storage.open(sim.host, "roster", "keyval"):set(ROSTER_USER, items));
		end
	end
	return list;
end
local default_subjects = make_subjects();

local function handler(sim, event)
	local handlers = sim:handlers("invites_register", event);
	assert(#handlers == 1, "expected one handler for " .. event);
	return handlers[1];
end

local function quiet_session(sim, fields)
	local session = { type = "c2s_unauthed", host = sim.host, secure = true, send = function () end, log = function () end };
	for k, v in pairs(fields or {}) do session[k] = v; end
	return session;
end

-- The table mod_register_ibr fires user-registering with (13 adds `role`).
local function registering_event(sim, username, session)
	return {
		username = username, password = "secret", host = sim.host, additional = {}, ip = "127.0.0.1",
		session = session, role = sim.version ~= "0.12" and "prosody:registered" or nil, allowed = true,
	};
end

-- Stateless workloads cycle through a pool of distinct events: LuaJIT would
-- hoist a single constant event out of the loop, and millions of events
-- would not fit in memory.
local POOL = 1024;
local function pooled(h, make)
	local events = {};
	for i = 1, POOL do events[i] = make(i); end
	return function (n)
		return function ()
			for i = 1, n do h(events[(i - 1) % POOL + 1]); end
		end;
	end;
end

-- Workloads whose handler changes the event get a fresh one per call, as
-- in the server.
local function fresh(h, make)
	return function (n)
		local events = {};
		for i = 1, n do events[i] = make(i); end
		return function ()
			for i = 1, n do h(events[i]); end
		end;
	end;
end

-- Registrations without invite (user-registering from one session): n events.
local function uninvited_registrations(sim, n)
	local session = quiet_session(sim);
	return fresh(handler(sim, "user-registering"), function ()
		return registering_event(sim, "mallory", session);
	end)(n);
end

-- Invited registrations: user-registering then user-registered, as
-- mod_register_ibr fires them. Returns prepare(n, first): makes n invites
-- and their events (usernames from user<first>), and returns run().
local function invited_registrations(sim)
	local registering = handler(sim, "user-registering");
	local registered = handler(sim, "user-registered");
	local invites = sim:module("invites");
	return function (n, first)
		local calls = {};
		for i = 1, n do
			local invite = assert(invites.create_account());
			local session = quiet_session(sim, { validated_invite = (assert(invites.get(invite.token))) });
			local username = "user" .. (first + i - 1);
			calls[i] = {
				registering = registering_event(sim, username, session),
				registered = { username = username, host = sim.host, session = session, source = "mod_register" },
			};
		end
		return function ()
			for i = 1, n do
				local call = calls[i];
				registering(call.registering);
				assert(call.registering.allowed, call.registering.reason);
				registered(call.registered);
			end
		end;
	end;
end

-- Each workload: prepare(sim, n) does the untimed setup for n calls and
-- returns run(), which makes the n calls, with events shaped as Prosody
-- shapes them.
-- hot_path: every presence to a local user runs it (bench/hooks_report.ts holds it
-- to the stock module's cost within the A/A noise).
local workloads = {
	{
		name = "available presence (presence/bare)", hot_path = true,
		prepare = function (sim, n)
			local origin = quiet_session(sim, { type = "s2sin" });
			return pooled(handler(sim, "presence/bare"), function ()
				return { origin = origin, stanza = sim.st.presence({ from = "bob@remote.example/phone", to = "alice@example.com" }) };
			end)(n);
		end,
	},
	{
		name = "subscribe without preauth", hot_path = true,
		prepare = function (sim, n)
			local origin = quiet_session(sim, { type = "s2sin" });
			return pooled(handler(sim, "presence/bare"), function ()
				return { origin = origin, stanza = sim.st.presence({ type = "subscribe", from = "bob@remote.example", to = "alice@example.com" }) };
			end)(n);
		end,
	},
	{
		name = "stream features, unauthenticated",
		prepare = function (sim, n)
			local session = quiet_session(sim);
			return fresh(handler(sim, "stream-features"), function ()
				return { origin = session, features = sim.st.stanza("stream:features") };
			end)(n);
		end,
	},
	{
		name = "stream features, authenticated",
		prepare = function (sim, n)
			local origin = quiet_session(sim, { type = "c2s", username = "alice" });
			return pooled(handler(sim, "stream-features"), function ()
				return { origin = origin, features = sim.st.stanza("stream:features") };
			end)(n);
		end,
	},
	{
		name = "registration without invite",
		prepare = uninvited_registrations,
	},
	{
		name = "preauth with an unknown token",
		-- Each from a session of its own, from an address of its own: the
		-- first attempt, which is looked up (a session or address over its
		-- limit is refused before any lookup, and closed).
		prepare = function (sim, n)
			local h = handler(sim, "stanza/iq/urn:xmpp:pars:0:preauth");
			return fresh(h, function (i)
				return { origin = quiet_session(sim, { ip = "192.0.2." .. i, close = function () end }), stanza = sim:preauth_iq("NeverIssuedNeverIssued00") };
			end)(n);
		end,
	},
	{
		name = "registration with a valid invite",
		prepare = function (sim, n)
			return invited_registrations(sim)(n, 1);
		end,
	},
};

-- The same two workloads with N pending invites in the store.
local PENDING = { 10, 1000, 10000 };
local CHUNK = 10;
local PENDING_ROUNDS, PENDING_MIN_BATCH_SECONDS = math.min(rounds, 5), 0.005;
for _, pending in ipairs(PENDING) do
	workloads[#workloads + 1] = {
		name = "registration with a valid invite, " .. pending .. " pending",
		family = "registration with a valid invite", pending = pending,
		rounds = PENDING_ROUNDS, min_batch_seconds = PENDING_MIN_BATCH_SECONDS,
		-- Invites made CHUNK at a time, untimed, between timed stretches.
		measure = function (sim, n)
			local prepare = invited_registrations(sim);
			local elapsed, done = 0, 0;
			while done < n do
				local count = math.min(CHUNK, n - done);
				local run = prepare(count, done + 1);
				local t0 = clock();
				run();
				elapsed = elapsed + (clock() - t0);
				done = done + count;
			end
			return elapsed;
		end,
	};
end
for _, pending in ipairs(PENDING) do
	workloads[#workloads + 1] = {
		name = "registration without invite, open, " .. pending .. " pending",
		family = "registration without invite, open", pending = pending,
		rounds = PENDING_ROUNDS, min_batch_seconds = PENDING_MIN_BATCH_SECONDS,
		config = { registration_invite_only = false },
		prepare = uninvited_registrations,
		check = function (sim)
			-- Open registration: the event must stay allowed.
			local event = registering_event(sim, "mallory", quiet_session(sim));
			handler(sim, "user-registering")(event);
			assert(event.allowed, "registration without invite refused with registration_invite_only = false");
		end,
	};
end

-- The presence hot path and XEP-0379 requests with N contacts in the
-- roster of the user they are sent to.
local ROSTER = { 10, 1000, 10000 };
for _, roster in ipairs(ROSTER) do
	workloads[#workloads + 1] = {
		name = "available presence (presence/bare), " .. roster .. " roster entries",
		family = "available presence (presence/bare)", roster = roster, hot_path = true,
		rounds = PENDING_ROUNDS, min_batch_seconds = PENDING_MIN_BATCH_SECONDS,
		prepare = function (sim, n)
			local origin = quiet_session(sim, { type = "s2sin" });
			local to = ROSTER_USER .. "@" .. sim.host;
			return pooled(handler(sim, "presence/bare"), function (i)
				return { origin = origin, stanza = sim.st.presence({ from = "contact" .. ((i - 1) % roster + 1) .. "@remote.example/phone", to = to }) };
			end)(n);
		end,
	};
end
-- Contacts new to the roster: "new<serial>@remote.example", one per request.
local contact_serial = 0;
-- Takes the contacts a stretch of requests added out of the user's roster
-- again (the cached roster and the stored one), and checks that each
-- request was approved: the contact is subscribed to the user.
local function remove_contacts(sim, contacts)
	local jid = ROSTER_USER .. "@" .. sim.host;
	local cache = sim.prosody.hosts[sim.host].roster_cache;
	local cached = assert(cache and cache:get(jid), "the roster of " .. jid .. " is not cached");
	local stored = assert(sim.storage:peek(sim.host, "roster", ROSTER_USER), "no stored roster");
	for _, contact in ipairs(contacts) do
		local item = cached[contact];
		assert(item and (item.subscription == "from" or item.subscription == "both"), "the subscription request of " .. contact .. " was not approved");
		cached[contact], stored[contact] = nil, nil;
		cached[false].pending[contact] = nil;
		if stored[false] and stored[false].pending then stored[false].pending[contact] = nil; end
	end
end
for _, roster in ipairs(ROSTER) do
	workloads[#workloads + 1] = {
		name = "subscribe with a valid preauth token, " .. roster .. " roster entries",
		family = "subscribe with a valid preauth token", roster = roster,
		rounds = PENDING_ROUNDS, min_batch_seconds = PENDING_MIN_BATCH_SECONDS, first_batch = 64,
		-- Tokens made CHUNK at a time, untimed, between timed stretches; the
		-- contacts each stretch added are removed (untimed) after it.
		measure = function (sim, n)
			local h = handler(sim, "presence/bare");
			local invites = sim:module("invites");
			local origin = quiet_session(sim, { type = "s2sin" });
			local to = ROSTER_USER .. "@" .. sim.host;
			local elapsed, done = 0, 0;
			while done < n do
				local count = math.min(CHUNK, n - done);
				local events, contacts = {}, {};
				for i = 1, count do
					local invite = assert(invites.create_contact(ROSTER_USER, true));
					contact_serial = contact_serial + 1;
					contacts[i] = "new" .. contact_serial .. "@remote.example";
					events[i] = {
						origin = origin,
						stanza = sim.st.presence({ type = "subscribe", from = contacts[i], to = to })
							:tag("preauth", { xmlns = "urn:xmpp:pars:0", token = invite.token }):up(),
					};
				end
				local t0 = clock();
				for i = 1, count do h(events[i]); end
				elapsed = elapsed + (clock() - t0);
				remove_contacts(sim, contacts);
				sim:take_remote(); -- the presences sent to the contacts
				done = done + count;
			end
			return elapsed;
		end,
	};
end

return { workloads = workloads, make_subjects = make_subjects, default_subjects = default_subjects };
