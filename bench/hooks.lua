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
-- `from`: start at that workload (1-based, in bench/hook_workloads.lua's order; bench/hooks.ts
-- restarts a killed process after the workload that was running).
--
-- Prints JSON lines (each flushed at once, so that what was measured
-- before a crash is not lost in a buffer):
--   {"type":"begin","lua":…,"prosody":…,"rounds":…}
--   {"type":"start","index":i,"name":…,"family":…,"pending"|"roster":N}  a workload begins
--   {"type":"batch","index":i,"module":…,"calls":n,"seconds":…,"peak_kib":…,"added_kib":…}
--       each calibration batch (bench/hooks.ts reports the last one of a killed process)
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
-- For testing bench/hooks.ts's handling of a dying process:
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

-- The workloads, and the hosts they run in (bench/hook_workloads.lua).
local defined = assert(loadfile(here .. "/hook_workloads.lua"))(Sim, source, version, dist, rounds);
local workloads, make_subjects, default_subjects = defined.workloads, defined.make_subjects, defined.default_subjects;

-- A workload's prepare(sim, n) returns run(), timed here; or its
-- measure(sim, n) times n calls itself (with the collector stopped here).
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
