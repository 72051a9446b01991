-- A simulated Prosody host for unit tests and benchmarks.
--
-- It runs Prosody's own Lua source from an installed (0.12) or unpacked (13)
-- Prosody: util.stanza, util.jid, util.events, core.stanza_router,
-- core.moduleapi, core.rostermanager, core.usermanager, mod_invites,
-- mod_register_ibr, mod_presence, mod_authz_internal... Only what is C, I/O
-- or process-wide is simulated (stubs.lua, storage.lua, modulemanager.lua,
-- mod_auth_sim.lua), so the module under test meets the real APIs.
--
--   local Sim = require "prosody_sim";
--   local sim = Sim.new{ source = "/usr/lib/prosody", plugin_paths = { "dist-lua" } };
--   local c = sim:connect();
--   sim:send(c, sim.st.iq{ type = "set", id = "1" }:tag("preauth", { xmlns = "urn:xmpp:pars:0", token = t }));
--
-- Each stanza is processed in its own coroutine, as mod_c2s's async runner
-- does; with sim.storage.yielding, storage calls yield and sim:run()
-- interleaves the waiting sessions.
local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or ".";
package.path = here .. "/?.lua;" .. package.path;

local stubs = require "stubs";
local storage_new = require "storage".new;
local modulemanager_new = require "modulemanager".new;

local Sim = {};
Sim.__index = Sim;

-- loadfile with an environment, on Lua 5.1 and 5.2+ alike.
local function loadfile_env(path, env)
	if setfenv then -- luacheck: ignore 113
		local f, err = loadfile(path);
		if f then setfenv(f, env); end -- luacheck: ignore 113
		return f, err;
	end
	return loadfile(path, "t", env);
end

local DEFAULT_MODULES = { "presence", "invites_register" };

--- Creates a simulated server with one virtual host.
-- opts.source        Prosody's Lua source (e.g. /usr/lib/prosody)
-- opts.version       "0.12" or "13": how "prosody.*" module names resolve
-- opts.plugin_paths  folders searched for modules before Prosody's own
-- opts.host          the virtual host (default "example.com")
-- opts.config        options for that host; opts.global_config for "*"
-- opts.modules       modules to load on the host (dependencies follow)
-- opts.process_type  prosody.process_type (default "prosody")
-- opts.strict_globals modules loaded in an environment that raises an error
--                    on any global write or read of an undefined global
-- opts.log_levels    use Prosody's own util.logger with sinks for just these
--                    levels (as a server logging at "info" would); by
--                    default every level is captured into sim.logs
function Sim.new(opts)
	opts = opts or {};
	local self = setmetatable({}, Sim);
	self.source = assert(opts.source, "opts.source: Prosody's Lua source folder");
	self.version = opts.version or "0.12";
	self.host = opts.host or "example.com";
	self.now = opts.now or os.time();
	local seed = opts.seed or 1;
	-- Park-Miller: reproducible, independent of math.random, and exact in
	-- doubles (Lua 5.1, LuaJIT) as in integers: products stay below 2^47.
	self.random = function (lo, hi)
		seed = (seed * 48271) % 2147483647;
		return lo + math.floor(seed / 256) % (hi - lo + 1);
	end
	self.logs, self.errors, self.remote = {}, {}, {};
	self.waiting = {};
	-- mod_register_limits needs util.net (C); mod_register_ibr loads it optionally.
	self.unavailable_modules = opts.unavailable_modules or { register_limits = true };
	-- Modules whose environment refuses global writes and reads of undefined globals.
	self.strict_globals = {};
	for _, name in ipairs(opts.strict_globals or {}) do self.strict_globals[name] = true; end
	self.plugin_paths = {};
	for _, dir in ipairs(opts.plugin_paths or {}) do self.plugin_paths[#self.plugin_paths + 1] = dir; end
	self.plugin_paths[#self.plugin_paths + 1] = self.source .. "/modules";
	self.plugin_paths[#self.plugin_paths + 1] = here .. "/modules";
	self.config = {
		["*"] = { authentication = "sim", c2s_require_encryption = true };
		[self.host] = {};
	};
	-- Real configs always list modules_enabled (13's mod_invites reads it).
	self.config["*"].modules_enabled = opts.modules or DEFAULT_MODULES;
	for k, v in pairs(opts.global_config or {}) do self.config["*"][k] = v; end
	for k, v in pairs(opts.config or {}) do self.config[self.host][k] = v; end

	self:_make_environment(opts.process_type or "prosody", opts.log_levels);
	self.st = self.require("util.stanza");
	self.jid = self.require("util.jid");
	self.require("core.stanza_router");
	self.rostermanager = self.require("core.rostermanager");
	self.usermanager = self.require("core.usermanager");
	self:_activate_host(self.host);
	-- Which driver a store uses, as core.storagemanager reads it from the config.
	local configmanager = self:_configmanager();
	function self.storage.configured_storage(host, store_name)
		local configured = configmanager.get(host, "storage");
		if type(configured) == "table" then configured = configured[store_name]; end
		return configured or configmanager.get(host, "default_storage");
	end
	function self.storage.load_sql(host)
		if not self.modulemanager.get_module(host, "storage_sim_sql") then
			assert(self.modulemanager.load(host, "storage_sim_sql"));
		end
	end
	for _, name in ipairs(opts.modules or DEFAULT_MODULES) do
		if not self.modulemanager.get_module(self.host, name) then
			local ok, err = self.modulemanager.load(self.host, name);
			if not ok then error("could not load mod_" .. name .. ": " .. tostring(err), 2); end
		end
	end
	return self;
end

function Sim:_make_environment(process_type, log_levels)
	local sim = self;
	local loaded = {};
	local env = setmetatable({}, { __index = _G });
	env._G = env;
	env.os = setmetatable({ time = function (t) if t then return os.time(t); end return sim.now; end }, { __index = os });

	self.storage = storage_new();
	self.modulemanager = modulemanager_new(self);
	local stub_builders = {
		["util.encodings"] = stubs.encodings, ["util.table"] = stubs.table, ["util.random"] = stubs.random,
		["util.time"] = stubs.time, ["util.pposix"] = stubs.pposix, ["util.compat"] = stubs.compat,
		["util.sasl"] = stubs.sasl, ["socket.url"] = stubs.socket_url, ["util.timer"] = stubs.timer,
		["core.statsmanager"] = stubs.statsmanager, ["util.logger"] = stubs.logger,
		["core.storagemanager"] = function () return sim.storage.manager; end,
		["core.modulemanager"] = function () return sim.modulemanager; end,
		["core.configmanager"] = function () return sim:_configmanager(); end,
		["core.sessionmanager"] = function () return sim:_sessionmanager(); end,
	};

	-- require(): stubs first, then Prosody's source. 0.12 has no "prosody."
	-- namespace; 13 accepts both names for the same module (its loader.lua).
	local function sim_require(name)
		local short = name;
		if name:sub(1, 8) == "prosody." then
			if sim.version == "0.12" then error("module '" .. name .. "' not found (Prosody 0.12 has no prosody.* names)", 2); end
			short = name:sub(9);
		end
		local value = loaded[short];
		if value ~= nil then return value; end
		local build = stub_builders[short];
		if build then
			value = build(sim);
		else
			local path = sim.source .. "/" .. short:gsub("%.", "/") .. ".lua";
			local chunk, err = loadfile_env(path, env);
			if not chunk then error("module '" .. name .. "' not found: " .. tostring(err), 2); end
			value = chunk(short);
			if value == nil then value = true; end
		end
		loaded[short] = value;
		return value;
	end
	if log_levels then
		stub_builders["util.logger"] = nil; -- Prosody's own, loaded from source
	end
	env.require = sim_require;
	-- package.loaded as modules see it in each version: 13 answers both
	-- names of a loaded library (its loader.lua), 0.12 only the plain one.
	env.package = setmetatable({
		loaded = setmetatable({}, {
			__index = function (_, name)
				if type(name) ~= "string" then return nil; end
				if name:sub(1, 8) == "prosody." then
					if sim.version == "0.12" then return nil; end
					return loaded[name:sub(9)];
				end
				return loaded[name];
			end;
		});
	}, { __index = package });
	self.require = sim_require;
	if log_levels then
		local logger = sim_require("util.logger");
		for _, level in ipairs(log_levels) do
			logger.add_level_sink(level, function (source, lvl, message, ...)
				local ok, text = pcall(sim_require("util.format").format, message, ...);
				sim.logs[#sim.logs + 1] = { source = source, level = lvl, message = ok and text or tostring(message) };
			end);
		end
	end
	self.loadfile = loadfile_env;
	self.env = env;

	local events = sim_require("util.events");
	self.prosody = {
		hosts = {}, bare_sessions = {}, full_sessions = {},
		process_type = process_type,
		events = events.new(),
		paths = { source = self.source, config = ".", data = "/nonexistent", plugins = "" },
		platform = "posix",
	};
	env.prosody = self.prosody;
	if self.version ~= "0.12" then
		sim_require("util.import"); -- defines the global import(), as 13's startup does
	end
end

function Sim:_configmanager()
	local config = self.config;
	return {
		get = function (host, key)
			local value;
			if host ~= "*" and config[host] then value = config[host][key]; end
			if value == nil then value = config["*"][key]; end
			return value;
		end;
		getconfig = function () return config; end;
		set = function (host, key, value)
			config[host] = config[host] or {};
			config[host][key] = value;
			return true;
		end;
	};
end

-- What mod_presence uses of core.sessionmanager (same code as Prosody's).
function Sim:_sessionmanager()
	local bare_sessions = self.prosody.bare_sessions;
	local function send_to(flag)
		return function (username, host, stanza)
			local count = 0;
			local user = bare_sessions[username .. "@" .. host];
			if user then
				for _, session in pairs(user.sessions) do
					if session[flag] then session.send(stanza); count = count + 1; end
				end
			end
			return count;
		end;
	end
	return {
		send_to_available_resources = send_to("presence");
		send_to_interested_resources = send_to("interested");
	};
end

-- As core.hostmanager's activate() does, then "host-activated" lets the real
-- usermanager load the authz and auth modules.
function Sim:_activate_host(host)
	local stanza_router_route = self.prosody.core_route_stanza;
	local events = self.require("util.events");
	local host_session = {
		host = host, type = "local", s2sout = {}, sessions = {}, modules = {},
		events = events.new(),
		send = function (stanza) return stanza_router_route(nil, stanza); end,
	};
	self.prosody.hosts[host] = host_session;
	-- Stanzas for other servers are collected instead of sent.
	host_session.events.add_handler("route/remote", function (event)
		self.remote[#self.remote + 1] = event.stanza;
		return true;
	end);
	self.prosody.events.fire_event("host-activated", host);
	return host_session;
end

--- The environment of a loaded module (e.g. sim:module("invites").create_account()).
function Sim:module(name)
	return self.modulemanager.get_module(self.host, name);
end

--- The handlers a module hooked on `event` (on this host), in no order.
function Sim:handlers(module_name, event)
	local mod = assert(self:module(module_name), "mod_" .. module_name .. " is not loaded");
	local events = self.prosody.hosts[self.host].events;
	local out = {};
	for handler in pairs(mod.module.event_handlers:get(events, event) or {}) do
		out[#out + 1] = handler;
	end
	return out;
end

--- Time: mod_invites and our module read os.time(); sim:advance() moves it.
function Sim:advance(seconds)
	self.now = self.now + seconds;
	self.require("util.timer").run_due();
end

------------------------------------------------------------------------
-- Sessions

local session_count = 0;
local function new_session(sim, opts)
	session_count = session_count + 1;
	local session = {
		type = "c2s_unauthed", host = sim.host, id = "c2s" .. session_count,
		secure = opts.secure ~= false, ip = opts.ip or "127.0.0.1", received = {},
	};
	session.log = sim.require("util.logger").init(session.id);
	session.send = function (stanza)
		session.received[#session.received + 1] = stanza;
		return true;
	end
	session.close = function (s) sim:close(s); end
	return session;
end

--- A client connection that has not signed in (opts.secure: TLS, default true).
function Sim:connect(opts)
	return new_session(self, opts or {});
end

--- A signed-in client with a bound resource, as sessionmanager.bind_resource
--- leaves it; opts.available sends initial presence, opts.interested (default
--- true) means it fetched its roster and gets roster pushes.
function Sim:login(username, resource, opts)
	opts = opts or {};
	local host, prosody = self.host, self.prosody;
	local session = new_session(self, opts);
	session.type, session.username, session.resource = "c2s", username, resource or "res";
	session.full_jid = username .. "@" .. host .. "/" .. session.resource;
	local host_session = prosody.hosts[host];
	if not host_session.sessions[username] then
		host_session.sessions[username] = { sessions = {} };
		prosody.bare_sessions[username .. "@" .. host] = host_session.sessions[username];
	end
	host_session.sessions[username].sessions[session.resource] = session;
	prosody.full_sessions[session.full_jid] = session;
	session.roster = self.rostermanager.load_roster(username, host);
	session.interested = opts.interested ~= false;
	if opts.available then
		self:send(session, self.st.presence());
		self:take(session);
	end
	return session;
end

--- Closes a session as sessionmanager.destroy_session does (the table is
--- retired: it reads as destroyed).
function Sim:close(session)
	if session.destroyed then return; end
	local prosody = self.prosody;
	if session.full_jid then
		local host_session = prosody.hosts[session.host];
		if session.presence then
			self:send(session, self.st.presence({ type = "unavailable" }));
		end
		host_session.sessions[session.username].sessions[session.resource] = nil;
		prosody.full_sessions[session.full_jid] = nil;
		if not next(host_session.sessions[session.username].sessions) then
			host_session.sessions[session.username] = nil;
			prosody.bare_sessions[session.username .. "@" .. session.host] = nil;
		end
	end
	local received = session.received;
	for k in pairs(session) do
		if k ~= "log" and k ~= "id" and k ~= "received" then session[k] = nil; end
	end
	session.send = function () return false; end
	setmetatable(session, { __index = { destroyed = true, type = "c2s_destroyed", received = received } });
end

------------------------------------------------------------------------
-- Stanza processing

function Sim:_resume(co)
	local ok, err = coroutine.resume(co);
	if not ok then
		-- mod_c2s's runner logs such errors as a traceback; tests assert there are none.
		local traceback = debug.traceback(co, tostring(err));
		self.errors[#self.errors + 1] = traceback;
		self.logs[#self.logs + 1] = { source = "c2s", level = "error", message = "Traceback[c2s]: " .. traceback };
	elseif coroutine.status(co) ~= "dead" then
		self.waiting[#self.waiting + 1] = co;
	end
end

--- Starts processing a stanza from `origin` (a session) and returns without
--- waiting: with yielding storage it may be left waiting until sim:run().
function Sim:submit(origin, stanza)
	local core_process_stanza = self.prosody.core_process_stanza;
	self:_resume(coroutine.create(function () core_process_stanza(origin, stanza); end));
end

--- Resumes waiting stanza processing, one step each in turn, until none waits.
function Sim:run()
	local guard = 0;
	while #self.waiting > 0 do
		guard = guard + 1;
		if guard > 100000 then error("simulation does not settle"); end
		local co = table.remove(self.waiting, 1);
		self:_resume(co);
	end
end

--- Stanzas the session received since the last take.
function Sim:take(session)
	local received = session.received;
	local out = {};
	for i = 1, #received do out[i] = received[i]; received[i] = nil; end
	return out;
end

--- Processes a stanza from `origin` to the end; returns what `origin` received.
function Sim:send(origin, stanza)
	self:submit(origin, stanza);
	self:run();
	return self:take(origin);
end

--- A stanza from another server arriving over s2s.
-- opts.type: "s2sin" (default) or "s2sout" (13's bidirectional streams
-- carry stanzas from the remote server over an outgoing connection too);
-- opts.connection: a name, to send over the same connection again (by
-- default every stanza comes on a new one), authenticated for each domain
-- it carries.
function Sim:receive_remote(stanza, opts)
	opts = opts or {};
	local from_host = self.jid.host(stanza.attr.from);
	self.s2s_connections = self.s2s_connections or {};
	local origin = opts.connection and self.s2s_connections[opts.connection];
	if not origin then
		local session_type = opts.type or "s2sin";
		origin = {
			type = session_type, id = session_type .. (opts.connection or tostring(#self.remote)), from_host = from_host, to_host = self.host,
			hosts = { [from_host] = { authed = true } },
			send = function (s) self.remote[#self.remote + 1] = s; end,
			log = self.require("util.logger").init(session_type),
		};
		if opts.connection then self.s2s_connections[opts.connection] = origin; end
	end
	-- A connection that carries several domains has authenticated each (dialback or a certificate naming them all).
	origin.hosts[from_host] = { authed = true };
	origin.close = origin.close or function (s, reason) s.closed = reason or true; end
	self:submit(origin, stanza);
	self:run();
end

--- Stanzas routed to other servers since the last call.
function Sim:take_remote()
	local out = self.remote;
	self.remote = {};
	return out;
end

--- The <stream:features/> a session is offered.
function Sim:features(session)
	local features = self.st.stanza("stream:features");
	self.prosody.hosts[self.host].events.fire_event("stream-features", { origin = session, features = features });
	return features;
end

------------------------------------------------------------------------
-- Client shortcuts

local next_id = 0;
local function id()
	next_id = next_id + 1;
	return "sim" .. next_id;
end

function Sim:preauth_iq(token, iq_type, to)
	return self.st.iq({ type = iq_type or "set", id = id(), to = to }):tag("preauth", { xmlns = "urn:xmpp:pars:0", token = token }):up();
end

function Sim:register_iq(username, password)
	return self.st.iq({ type = "set", id = id() })
		:tag("query", { xmlns = "jabber:iq:register" })
			:text_tag("username", username)
			:text_tag("password", password)
		:up();
end

--- Presents a token; returns the reply.
function Sim:preauth(session, token)
	return self:send(session, self:preauth_iq(token))[1];
end

--- Registers in-band; returns the reply.
function Sim:register(session, username, password)
	return self:send(session, self:register_iq(username, password or "secret"))[1];
end

--- Creates an account directly (as prosodyctl adduser would).
function Sim:create_user(username, password)
	return self.usermanager.create_user(username, password or "secret", self.host);
end

function Sim:user_exists(username)
	return self.usermanager.user_exists(username, self.host) and true or false;
end

--- A user's roster item for `jid`, read afresh from storage.
function Sim:roster_item(username, jid)
	local roster = self.storage:peek(self.host, "roster", username);
	return roster and roster[jid];
end

--- Whether the user has a pending inbound request from `jid`.
function Sim:pending_in(username, jid)
	local roster = self.storage:peek(self.host, "roster", username);
	local meta = roster and roster[false];
	return meta ~= nil and meta.pending ~= nil and meta.pending[jid] ~= nil;
end

--- Log entries, optionally at or above a level.
local levels = { debug = 1, info = 2, warn = 3, error = 4 };
function Sim:log_entries(min_level)
	local min = levels[min_level or "debug"];
	local out = {};
	for _, entry in ipairs(self.logs) do
		if levels[entry.level] and levels[entry.level] >= min then out[#out + 1] = entry; end
	end
	return out;
end

return Sim;
