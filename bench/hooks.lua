-- Hook cost and load time: the built module against Prosody's stock
-- mod_invites_register, each loaded into its own, identical simulated
-- Prosody host (spec/support/prosody_sim: Prosody's own util.stanza,
-- util.jid, rostermanager, mod_invites… from the installed Prosody, with
-- logging at "info" as on a default server). Every workload calls the
-- module's own hook handler on events prepared beforehand.
--
--   lua5.4 bench/hooks.lua <prosody source> <0.12|13> <dist-lua folder> [rounds] [workload]
--
-- Prints one JSON object. Per workload: the median time per call of each
-- module over the rounds, their ratio (ours / stock), and the interquartile
-- range of the per-round ratios, and the same median ratio for a second
-- copy of the stock module (the A/A control). Rounds rotate which module
-- goes first; the garbage collector runs before each batch and is stopped
-- during it; batches last at least 20 ms.
--
-- The workloads with "N pending" in their name run in hosts of their own
-- whose invite store holds N pending account invites (made by mod_invites'
-- create_account(), in the simulator's in-memory storage): the cost per
-- event must not grow with N. For "registration with a valid invite, N
-- pending" each batch's own invites are created, untimed, 10 at a time
-- between timed stretches of 10 registrations, so the store holds N to
-- N + 10 invites throughout. These workloads look for growth with N, not
-- for a few per cent: they run at most 5 rounds, with batches of at least
-- 5 ms.
local source, version, dist, rounds = arg[1], arg[2], arg[3], tonumber(arg[4] or "15");
local here = arg[0]:match("^(.*)/[^/]*$") or ".";
package.path = here .. "/../spec/support/?/init.lua;" .. here .. "/../spec/support/?.lua;" .. package.path;
local Sim = require "prosody_sim";

local clock = os.clock;
local MIN_BATCH_SECONDS = 0.02;

local function new_sim(plugin_paths, config)
	return Sim.new({ source = source, version = version, plugin_paths = plugin_paths, config = config, log_levels = { "info", "warn", "error" } });
end

-- "control" is a second copy of the stock module in a third host: its
-- ratio to "stock" is what the method reads as a difference when there is
-- none (an A/A test), the noise floor for the ours/stock ratios.
-- `pending`: that many pending account invites in each host's store.
local function make_subjects(config, pending)
	local list = {
		{ name = "ours", sim = new_sim({ dist }, config) },
		{ name = "stock", sim = new_sim({}, config) },
		{ name = "control", sim = new_sim({}, config) },
	};
	for _, subject in ipairs(list) do
		local invites = subject.sim:module("invites");
		for _ = 1, pending or 0 do assert(invites.create_account()); end
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
local workloads = {
	{
		name = "available presence (presence/bare)",
		prepare = function (sim, n)
			local origin = quiet_session(sim, { type = "s2sin" });
			return pooled(handler(sim, "presence/bare"), function ()
				return { origin = origin, stanza = sim.st.presence({ from = "bob@remote.example/phone", to = "alice@example.com" }) };
			end)(n);
		end,
	},
	{
		name = "subscribe without preauth",
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
		prepare = function (sim, n)
			local session = quiet_session(sim);
			return fresh(handler(sim, "user-registering"), function ()
				return registering_event(sim, "mallory", session);
			end)(n);
		end,
	},
	{
		name = "preauth with an unknown token",
		prepare = function (sim, n)
			local origin = quiet_session(sim);
			return pooled(handler(sim, "stanza/iq/urn:xmpp:pars:0:preauth"), function ()
				return { origin = origin, stanza = sim:preauth_iq("NeverIssuedNeverIssued00") };
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
		prepare = function (sim, n)
			local session = quiet_session(sim);
			return fresh(handler(sim, "user-registering"), function ()
				return registering_event(sim, "mallory", session);
			end)(n);
		end,
		check = function (sim)
			-- Open registration: the event must stay allowed.
			local event = registering_event(sim, "mallory", quiet_session(sim));
			handler(sim, "user-registering")(event);
			assert(event.allowed, "registration without invite refused with registration_invite_only = false");
		end,
	};
end

-- Or measure(sim, n), which times n calls itself (with the collector
-- stopped by the caller).
local function time_batch(sim, workload, n)
	local run = workload.prepare and workload.prepare(sim, n);
	collectgarbage("collect");
	collectgarbage("stop");
	local elapsed;
	if run then
		local t0 = clock();
		run();
		elapsed = clock() - t0;
	else
		elapsed = workload.measure(sim, n);
	end
	collectgarbage("restart");
	return elapsed;
end

-- Batch size: doubled until the stock module's batch lasts MIN_BATCH_SECONDS
-- (or the workload's own minimum).
local function calibrate(workload, subjects)
	local n = 256;
	local min_seconds = workload.min_batch_seconds or MIN_BATCH_SECONDS;
	while time_batch(subjects[2].sim, workload, n) < min_seconds and n < 2 ^ 18 do
		n = n * 2;
	end
	return n;
end

local function median(values)
	local sorted = {};
	for i, v in ipairs(values) do sorted[i] = v; end
	table.sort(sorted);
	local mid = math.floor(#sorted / 2);
	if #sorted % 2 == 1 then return sorted[mid + 1]; end
	return (sorted[mid] + sorted[mid + 1]) / 2;
end

local results = {};
-- An optional fifth argument runs only the workloads whose name contains it.
local only = arg[5];
for _, workload in ipairs(workloads) do if not only or workload.name:find(only, 1, true) then
	-- Workloads with their own configuration or store size get their own
	-- hosts, dropped afterwards.
	local subjects = default_subjects;
	if workload.pending or workload.config then
		subjects = make_subjects(workload.config, workload.pending);
	end
	if workload.check then
		for _, subject in ipairs(subjects) do workload.check(subject.sim); end
	end
	local n = calibrate(workload, subjects);
	local workload_rounds = workload.rounds or rounds;
	local samples = { ours = {}, stock = {}, control = {} };
	for round = 1, workload_rounds do
		for k = 0, #subjects - 1 do
			local subject = subjects[(round + k) % #subjects + 1];
			-- An untimed quarter batch first: the allocator is left in the
			-- state this module's work leaves it in, not the previous module's
			-- (measured: without it, the stock module ran up to 2× slower
			-- right after ours on "registration without invite").
			time_batch(subject.sim, workload, math.ceil(n / 4));
			local seconds = time_batch(subject.sim, workload, n);
			table.insert(samples[subject.name], seconds / n * 1e9);
		end
	end
	if workload.pending then
		-- The store still holds N pending invites: each batch used up its own.
		for _, subject in ipairs(subjects) do
			local count = 0;
			for _ in subject.sim:module("invites").pending_account_invites() do count = count + 1; end
			assert(count == workload.pending, subject.name .. ": " .. count .. " pending invites after \"" .. workload.name .. "\"");
		end
	end
	local ours, stock, control = median(samples.ours), median(samples.stock), median(samples.control);
	-- The spread of the per-round ratios shows how much of a difference is noise.
	local ratios = {};
	for i = 1, workload_rounds do ratios[i] = samples.ours[i] / samples.stock[i]; end
	table.sort(ratios);
	results[#results + 1] = {
		name = workload.name, family = workload.family, pending = workload.pending,
		rounds = workload_rounds, calls_per_batch = n, ours_ns = ours, stock_ns = stock, ratio = ours / stock,
		control_ns = control, control_ratio = control / stock,
		ratio_low = ratios[math.max(1, math.floor(workload_rounds / 4))], ratio_high = ratios[math.min(workload_rounds, math.ceil(workload_rounds * 3 / 4))],
	};
end end

-- Size and load time: compiling the file, and loading it as a module.
local function file_of(plugin_path)
	return plugin_path .. "/mod_invites_register.lua";
end
local function size_of(path)
	local f = assert(io.open(path, "rb"));
	local size = f:seek("end");
	f:close();
	return size;
end
local files = { ours = file_of(dist), stock = file_of(source .. "/modules") };
local load_samples = { ours = { compile = {}, load = {} }, stock = { compile = {}, load = {} } };
local LOADS = 200;
for round = 1, rounds do
	local order = round % 2 == 1 and { 1, 2 } or { 2, 1 };
	for _, index in ipairs(order) do
		local subject = default_subjects[index];
		local path = files[subject.name];
		collectgarbage("collect");
		local t0 = clock();
		for _ = 1, LOADS do assert(loadfile(path)); end
		table.insert(load_samples[subject.name].compile, (clock() - t0) / LOADS * 1e6);
		local mm = subject.sim.modulemanager;
		collectgarbage("collect");
		t0 = clock();
		for _ = 1, LOADS / 10 do
			mm.unload(subject.sim.host, "invites_register");
			assert(mm.load(subject.sim.host, "invites_register"));
		end
		table.insert(load_samples[subject.name].load, (clock() - t0) / (LOADS / 10) * 1e6);
	end
end
local load = {
	ours = { bytes = size_of(files.ours), compile_us = median(load_samples.ours.compile), load_us = median(load_samples.ours.load) },
	stock = { bytes = size_of(files.stock), compile_us = median(load_samples.stock.compile), load_us = median(load_samples.stock.load) },
};

-- JSON out (numbers, strings, booleans, arrays and objects are all there is).
local function encode(value)
	local t = type(value);
	if t == "table" then
		if value[1] ~= nil or next(value) == nil then
			local parts = {};
			for i, v in ipairs(value) do parts[i] = encode(v); end
			return "[" .. table.concat(parts, ",") .. "]";
		end
		local keys = {};
		for k in pairs(value) do keys[#keys + 1] = k; end
		table.sort(keys);
		local parts = {};
		for _, k in ipairs(keys) do parts[#parts + 1] = string.format("%q:%s", k, encode(value[k])); end
		return "{" .. table.concat(parts, ",") .. "}";
	elseif t == "string" then
		return (string.format("%q", value):gsub("\\\n", "\\n"));
	elseif t == "number" then
		return string.format("%.6g", value);
	end
	return tostring(value);
end

print(encode({
	lua = _VERSION .. (rawget(_G, "jit") and (" (" .. jit.version .. ")") or ""),
	prosody = version,
	rounds = rounds,
	workloads = results,
	load = load,
}));
