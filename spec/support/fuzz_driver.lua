-- The Lua side of spec/unit/fuzz.test.ts (driven by spec/support/fuzz_world.ts):
-- fires hooks directly as other modules and other routers would, builds
-- event tables, and reads what the invariants need straight from the
-- simulated storage (bypassing its failure knobs) in one call.
local bridge = require "prosody_sim.bridge";

local driver = {};

local HOST_KEY = "@host"; -- how storage.lua keeps host-wide data

local function store_data(sim, store)
	return (sim.storage.data[sim.host] or {})[store] or {};
end

local function host_events(sim)
	return sim.prosody.hosts[sim.host].events;
end

--- Runs `f` as mod_c2s's async runner would: in a coroutine, a Lua error
--- recorded in sim.errors (with its traceback) instead of raised.
local function run_as_runner(sim, f)
	sim:_resume(coroutine.create(f));
	sim:run();
end

--- What the invariants compare before and after each action: accounts
--- (with their passwords), invites as stored (host-wide records: account
--- invites and contact invites with registration rights; per-user
--- expiries: contact invites), write counts per store, errors, time.
function driver.snapshot(sim)
	local accounts = {};
	-- When each account was created, as the module can know it: 13's account
	-- records, else the module's own record (0.12).
	local created_records = store_data(sim, "invites_register_account");
	for user, account in pairs(store_data(sim, "accounts")) do
		local created = type(account) == "table" and tonumber(account.created) or nil;
		if created == nil and type(created_records[user]) == "table" then created = tonumber(created_records[user].created); end
		accounts[#accounts + 1] = {
			user = user, password = type(account) == "table" and tostring(account.password) or "?", created = created,
			disabled = type(account) == "table" and account.disabled == true or nil,
		};
	end
	local records, contacts = {}, {};
	for owner, tokens in pairs(store_data(sim, "invite_token")) do
		for token, value in pairs(tokens) do
			if type(token) == "string" then
				if owner == HOST_KEY then
					records[#records + 1] = {
						token = token, expires = type(value) == "table" and tonumber(value.expires) or nil,
						created_at = type(value) == "table" and tonumber(value.created_at) or nil,
					};
				else
					contacts[#contacts + 1] = { user = owner, token = token, expires = tonumber(value) };
				end
			end
		end
	end
	return { accounts = accounts, records = records, contacts = contacts, writes = driver.writes(sim), errors = #sim.errors, now = sim.now };
end

--- Writes per store so far (storage.lua counts them).
function driver.writes(sim)
	local writes = {};
	for store, count in pairs(sim.storage.writes) do writes[store] = count; end
	writes.__ = 0; -- never an empty table (which would read as a list)
	return writes;
end

--- Fires an event on the host as another module would (in a runner).
function driver.fire(sim, name, event)
	run_as_runner(sim, function ()
		host_events(sim).fire_event(name, event);
	end);
end

--- Whether a storage failure knob currently affects `op` on `store`.
function driver.failing(sim, store, op)
	local failing = sim.storage.failing[store];
	return failing ~= nil and (failing.op == nil or failing.op == op);
end

--- Log entries from index `from` on, only those the token check reads.
function driver.logs_from(sim, from)
	local out = {};
	for i = from, #sim.logs do
		local entry = sim.logs[i];
		if entry.level ~= "debug" or tostring(entry.source):find("invites_register", 1, true) then
			out[#out + 1] = { source = tostring(entry.source), level = tostring(entry.level), message = tostring(entry.message) };
		end
	end
	return { entries = out, next = #sim.logs + 1 };
end

--- Everything each session (and the remote side) received since the last drain.
function driver.drain(sim, sessions)
	local received = {};
	for i, session in ipairs(sessions) do received[i] = { stanzas = sim:take(session) }; end
	return { sessions = received, remote = sim:take_remote() };
end

--- Records every account created and every password reset, as their
--- events are fired (by mod_register_ibr, or by the fuzzer as another
--- module would): one entry each, even when two happen to one account.
function driver.observe(sim)
	local events = host_events(sim);
	sim.fuzz_observed = {};
	local function record(kind)
		return function (event)
			sim.fuzz_observed[#sim.fuzz_observed + 1] = {
				kind = kind, username = event.username, source = event.source, session = event.session,
			};
		end
	end
	events.add_handler("user-registered", record("registered"), -1000);
	events.add_handler("user-password-reset", record("reset"), -1000);
end

--- Everything checked after an action, in one call: what each session
--- and the remote side received, escaped errors, new log entries, and a
--- new snapshot.
function driver.after(sim, sessions, log_from)
	local errors = {};
	for i, err in ipairs(sim.errors) do errors[i] = err; end
	local closed = {};
	for i, session in ipairs(sessions) do closed[i] = session.destroyed == true; end
	local observed = {};
	for i, entry in ipairs(sim.fuzz_observed or {}) do
		local index;
		for j, session in ipairs(sessions) do
			if session == entry.session then index = j; end
		end
		observed[i] = {
			kind = entry.kind, username = type(entry.username) == "string" and entry.username or nil,
			source = type(entry.source) == "string" and entry.source or nil, session = index,
		};
	end
	sim.fuzz_observed = {};
	return {
		observed = observed,
		closed = closed, -- the server may close a session (too many invalid tokens)
		drained = driver.drain(sim, sessions),
		errors = errors,
		logs = driver.logs_from(sim, log_from),
		snapshot = driver.snapshot(sim),
	};
end

--- An incoming server-to-server stream from `from_host`, for firing hooks directly.
function driver.s2s_origin(sim, from_host)
	local origin = {
		type = "s2sin", from_host = from_host, to_host = sim.host,
		hosts = { [from_host] = { authed = true } }, received = {},
		log = sim.require("util.logger").init("s2sin"),
	};
	origin.send = function (stanza) origin.received[#origin.received + 1] = stanza; return true; end
	origin.close = function () origin.closed = true; end
	return origin;
end

--- Fires a stanza event (e.g. stanza/iq/urn:xmpp:pars:0:preauth) on the
--- host directly, as a router would; returns what `origin` received.
function driver.fire_stanza(sim, origin, event_name, plain)
	local stanza = bridge.stanza(sim, plain);
	run_as_runner(sim, function ()
		host_events(sim).fire_event(event_name, { origin = origin, stanza = stanza });
	end);
	return sim:take(origin);
end

--- <stream:features/> offered to `origin`: the namespaces of its children.
function driver.features(sim, origin)
	local features = sim.st.stanza("stream:features");
	local out = {};
	run_as_runner(sim, function ()
		host_events(sim).fire_event("stream-features", { origin = origin, features = features });
	end);
	for _, child in ipairs(features.tags) do out[#out + 1] = child.attr.xmlns or "?"; end
	return out;
end

--- The value an event carries as validated_invite:
---   { kind = "genuine", token = t }  what mod_invites' get(t) returns (nil when invalid)
---   { kind = "table", fields = {...} } a table made up by the caller
---   { kind = "value", value = v }    a string, number or boolean
---   anything else                    none
local function invite_value(sim, spec)
	if type(spec) ~= "table" then return nil, false; end
	if spec.kind == "genuine" then
		local ok, invite = pcall(sim:module("invites").get, spec.token);
		if ok and invite then return invite, true; end
		return nil, false;
	elseif spec.kind == "table" then
		local fields = {};
		for k, v in pairs(spec.fields or {}) do fields[k] = v; end
		if spec.with_use then
			fields.use = function () return true; end
		end
		return fields, false;
	elseif spec.kind == "value" then
		return spec.value, false;
	end
	return nil, false;
end

--- Fires user-registering, user-registered or user-password-reset as
--- another module would; returns what the handlers left on the event.
function driver.registration_event(sim, name, spec)
	local invite, genuine = invite_value(sim, spec.invite);
	local event = {
		username = spec.username, host = spec.host, session = spec.session,
		allowed = spec.allowed, ip = spec.ip, source = spec.source,
		validated_invite = invite,
	};
	if spec.no_host then event.host = nil; elseif event.host == nil then event.host = sim.host; end
	run_as_runner(sim, function ()
		host_events(sim).fire_event(name, event);
	end);
	local err = type(event.error) == "table" and event.error or {};
	return {
		genuine = genuine,
		invite_token = type(invite) == "table" and type(invite.token) == "string" and invite.token or nil,
		allowed = event.allowed,
		allow_reset = event.allow_reset,
		reason = event.reason,
		condition = err.condition,
	};
end

--- A web registration (as mod_invites_register_web does it): the token
--- checked with mod_invites' get(), user-registering, and when allowed the
--- account created and user-registered fired. An account that exists is
--- never overwritten (a web module checks that itself).
function driver.web_register(sim, spec)
	local invite, genuine = invite_value(sim, spec.invite);
	local username, password = spec.username, spec.password;
	local events = host_events(sim);
	local result = { genuine = genuine };
	result.invite_token = type(invite) == "table" and type(invite.token) == "string" and invite.token or nil;
	run_as_runner(sim, function ()
		local event = { username = username, host = sim.host, validated_invite = invite, allowed = true, ip = "127.0.0.1" };
		events.fire_event("user-registering", event);
		result.allowed = event.allowed;
		result.allow_reset = event.allow_reset;
		result.reason = event.reason;
		if not event.allowed then
			result.outcome = "refused";
			return;
		end
		if event.allow_reset ~= nil then
			result.outcome = "reset-allowed"; -- a reset form would follow: not simulated
			return;
		end
		if sim.usermanager.user_exists(username, sim.host) then
			result.outcome = "exists";
			return;
		end
		if not sim.usermanager.create_user(username, password, sim.host) then
			result.outcome = "failed";
			return;
		end
		result.outcome = "registered";
		events.fire_event("user-registered", { username = username, host = sim.host, validated_invite = invite, source = "mod_invites_register_web" });
	end);
	return result;
end

return driver;
