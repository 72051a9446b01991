-- Hook cost and load time: the built module against Prosody's stock
-- mod_invites_register, each loaded into its own, identical simulated
-- Prosody host (harness/sim/prosody_sim: Prosody's own util.stanza,
-- util.jid, rostermanager, mod_invites… from the installed Prosody, with
-- logging at "info" as on a default server). Every workload calls the
-- module's own hook handler on events prepared beforehand.
--
--   lua5.4 bench/hooks.lua <prosody source> <0.12|13> <dist-lua folder> [rounds] [only] [from]
--
-- `only`: run only the workloads whose name contains it ("" for all);
-- `from`: start at that workload (1-based, in the order below; bench/run.ts
-- restarts a killed process after the workload that was running).
--
-- Prints JSON lines (each flushed at once, so that what was measured
-- before a crash is not lost in a buffer):
--   {"type":"begin","lua":…,"prosody":…,"rounds":…}
--   {"type":"start","index":i,"name":…,"family":…,"pending"|"roster":N}  a workload begins
--   {"type":"batch","index":i,"module":…,"calls":n,"seconds":…,"peak_kib":…,"added_kib":…}
--       each calibration batch (bench/run.ts reports the last one of a killed process)
--   {"type":"workload",…}  its result: per module the median time per call
--       over the rounds, their ratio (ours / stock), the interquartile range
--       of the per-round ratios, the same median ratio for a second copy of
--       the stock module (the A/A control), and the Lua heap: peak_kib (the
--       largest collectgarbage("count") at the end of a batch, when it is
--       largest: the collector is stopped during a batch) and batch_kib (the
--       most one batch, its prepared events included, added to the heap)
--   {"type":"start","phase":"load"}, then {"type":"load",…}  size and load time
--   {"type":"done","lua":…,"prosody":…,"rounds":…}
-- Rounds rotate which module goes first; the garbage collector runs before
-- each batch and is stopped during it; batches last at least 20 ms, unless
-- that would make one add more than MAX_BATCH_MIB (256) to the heap, as
-- extrapolated from smaller batches (then "memory_bound") (the collector being stopped, a workload that allocates per call
-- would otherwise take the machine's memory: the OOM killer's SIGKILL).
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
--
-- The workloads with "N roster entries" do the same with N contacts in the
-- roster of the local user "alice" (who exists, and is offline: Prosody's
-- rostermanager then keeps her roster in its per-host cache after the
-- first load, and saves one item at a time): available presence to her
-- (the hot path; the handler must return at its first check, whatever the
-- roster), and XEP-0379 subscription requests to her from remote contacts
-- carrying a valid token she issued (mod_invites' create_contact(),
-- allowing registration as invite links do; 0.12's mod_invites.get()
-- raises an error for a contact invite that does not). Those are made 10
-- at a time, untimed, between timed stretches of 10 requests, and the
-- contacts they added are taken out of the roster again, so it holds N to
-- N + 10 entries throughout.
--
-- For testing bench/run.ts's handling of a dying process:
-- BENCH_HOOKS_FAIL=<how>:<text> makes the process fail when a workload
-- whose name contains <text> starts (after its hosts are made): how = kill
-- (it sends itself SIGKILL, as the OOM killer would), exit (os.exit(3)),
-- or error (a Lua error). E.g. BENCH_HOOKS_FAIL='kill:10000 roster'.
local source, version, dist, rounds = arg[1], arg[2], arg[3], tonumber(arg[4] or "15");
local only = arg[5] ~= "" and arg[5] or nil;
local from = tonumber(arg[6] or "1");
local here = arg[0]:match("^(.*)/[^/]*$") or ".";
package.path = here .. "/../harness/sim/?/init.lua;" .. here .. "/../harness/sim/?.lua;" .. package.path;
local Sim = require "prosody_sim";

local clock = os.clock;
-- The interpreter, as the results name it: "Lua 5.4", "Lua 5.1 (LuaJIT 2.1.0-beta3)".
local LUA = _VERSION .. (rawget(_G, "jit") and (" (" .. rawget(_G, "jit").version .. ")") or "");
local MIN_BATCH_SECONDS = 0.02;
-- The most one batch may add to the Lua heap (its prepared events and what
-- the calls allocate with the collector stopped).
local MAX_BATCH_MIB = 256;

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
		if value ~= value or value == math.huge or value == -math.huge then return "null"; end
		return string.format("%.6g", value);
	end
	return tostring(value);
end

-- One JSON line, flushed: a process killed later loses nothing printed.
local function emit(record)
	io.stdout:write(encode(record), "\n");
	io.stdout:flush();
end

-- BENCH_HOOKS_FAIL=<kill|exit|error>:<text> (see the top of the file).
local fail_how, fail_what = (os.getenv("BENCH_HOOKS_FAIL") or ""):match("^(%a+):(.+)$");
local function maybe_fail(name)
	if not fail_what or not name:find(fail_what, 1, true) then return; end
	if fail_how == "kill" then
		local f = io.open("/proc/self/stat", "r");
		local pid = f and f:read("*n");
		if f then f:close(); end
		if pid then os.execute("kill -KILL " .. pid); end
		os.exit(137); -- no /proc: as a shell reports a SIGKILL
	elseif fail_how == "exit" then
		os.exit(3);
	end
	error("BENCH_HOOKS_FAIL: simulated error in \"" .. name .. "\"");
end

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
-- hot_path: every presence to a local user runs it (bench/run.ts holds it
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

-- Or measure(sim, n), which times n calls itself (with the collector
-- stopped by the caller).
--
-- The heap: `heap.base` is its size (KiB) with the workload's hosts made
-- and nothing else; each batch updates heap.peak (the size at the end of
-- the batch, when the stopped collector has let it grow most) and
-- heap.batch (the most one batch added over base). Returns the seconds and
-- what this batch added.
local function time_batch(sim, workload, n, heap)
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
	local after = collectgarbage("count");
	collectgarbage("restart");
	local added = after - heap.base;
	if after > heap.peak then heap.peak = after; end
	if added > heap.batch then heap.batch = added; end
	return elapsed, added;
end

-- Batch size: doubled until the stock module's batch lasts MIN_BATCH_SECONDS
-- (or the workload's own minimum). Then our module runs batches from 16
-- calls up to see what it allocates per call (the growth from one batch to
-- the next: prepared event pools are a fixed cost), and the batch size is
-- cut until neither module's batch would add more than MAX_BATCH_MIB to
-- the heap. Ours may allocate far more per call than stock (a read of
-- every pending invite or roster entry per event would): its probing
-- batches stay small enough not to take the machine down.
local PROBE_CALLS = 16;
local function calibrate(workload, subjects, heap, index)
	local budget = MAX_BATCH_MIB * 1024;
	-- Each module's first calls (a roster's first load, say) are not timed.
	for _, subject in ipairs(subjects) do time_batch(subject.sim, workload, 4, heap); end
	-- At most how many calls fit in the budget, from batches of m1 and m2 > m1
	-- calls (m1 = 0: no earlier batch, nothing known of the cost per call).
	local function fit(m1, added1, m2, added2)
		if added2 > budget then return math.max(1, math.floor(m2 / 2)); end
		local per_call = m1 > 0 and math.max(0, (added2 - added1) / (m2 - m1)) or 0;
		if per_call == 0 then return math.huge; end
		return m2 + math.floor((budget - added2) / per_call);
	end
	local n = workload.first_batch or 256;
	local min_seconds = workload.min_batch_seconds or MIN_BATCH_SECONDS;
	local last_n, last_added = 0, 0;
	while true do
		local seconds, added = time_batch(subjects[2].sim, workload, n, heap);
		emit({ type = "batch", index = index, module = subjects[2].name, calls = n, seconds = seconds, peak_kib = heap.peak, added_kib = added });
		local most = fit(last_n, last_added, n, added);
		if most < n then n, heap.bounded = most, true; break; end
		if seconds >= min_seconds or n >= 2 ^ 18 then break; end
		if most < 2 * n then n, heap.bounded = most, true; break; end
		last_n, last_added, n = n, added, n * 2;
	end
	-- Ours (the control is the stock module's code): batches of 16, 64, 256…
	-- calls, until one of at least an eighth of n shows n fits. Each is at
	-- most what the one before predicted n would add: within the budget.
	local ours = subjects[1];
	local m, prev_m, prev_added = math.min(PROBE_CALLS, n), 0, 0;
	while true do
		local seconds, added = time_batch(ours.sim, workload, m, heap);
		emit({ type = "batch", index = index, module = ours.name, calls = m, seconds = seconds, peak_kib = heap.peak, added_kib = added });
		local most = fit(prev_m, prev_added, m, added);
		if most < n then n, heap.bounded = math.max(1, most), true; end
		if m * 8 >= n then break; end
		prev_m, prev_added, m = m, added, math.min(4 * m, n);
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

emit({ type = "begin", lua = LUA, prosody = version, rounds = rounds });
for index, workload in ipairs(workloads) do if index >= from and (not only or workload.name:find(only, 1, true)) then
	emit({ type = "start", index = index, name = workload.name, family = workload.family, pending = workload.pending, roster = workload.roster });
	-- Workloads with their own configuration, store or roster get their own
	-- hosts, dropped afterwards.
	local subjects = default_subjects;
	if workload.pending or workload.roster or workload.config then
		subjects = make_subjects(workload.config, workload.pending, workload.roster);
	end
	maybe_fail(workload.name);
	if workload.check then
		for _, subject in ipairs(subjects) do workload.check(subject.sim); end
	end
	collectgarbage("collect");
	local base = collectgarbage("count");
	local heap = { base = base, peak = base, batch = 0, bounded = false };
	local n = calibrate(workload, subjects, heap, index);
	local workload_rounds = workload.rounds or rounds;
	local samples = { ours = {}, stock = {}, control = {} };
	for round = 1, workload_rounds do
		for k = 0, #subjects - 1 do
			local subject = subjects[(round + k) % #subjects + 1];
			-- An untimed quarter batch first: the allocator is left in the
			-- state this module's work leaves it in, not the previous module's
			-- (measured: without it, the stock module ran up to 2× slower
			-- right after ours on "registration without invite").
			time_batch(subject.sim, workload, math.ceil(n / 4), heap);
			local seconds = time_batch(subject.sim, workload, n, heap);
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
	emit({
		type = "workload", index = index,
		name = workload.name, family = workload.family, pending = workload.pending, roster = workload.roster, hot_path = workload.hot_path,
		rounds = workload_rounds, calls_per_batch = n, ours_ns = ours, stock_ns = stock, ratio = ours / stock,
		control_ns = control, control_ratio = control / stock,
		ratio_low = ratios[math.max(1, math.floor(workload_rounds / 4))], ratio_high = ratios[math.min(workload_rounds, math.ceil(workload_rounds * 3 / 4))],
		base_kib = heap.base, peak_kib = heap.peak, batch_kib = heap.batch, memory_bound = heap.bounded,
	});
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
emit({ type = "start", phase = "load" });
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

emit({ type = "load", load = load });
emit({
	type = "done",
	lua = LUA,
	prosody = version,
	rounds = rounds,
});
