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

--- The release in a Prosody source folder's prosody.version file (nil
-- without io, as under fengari: the caller passes opts.release there).
local function read_release(source)
	local file = io and io.open and io.open(source .. "/prosody.version");
	if not file then return nil; end
	local release = file:read("*l");
	file:close();
	return release and release:match("^%s*(.-)%s*$");
end

--- Creates a simulated server with one virtual host.
-- opts.source        Prosody's Lua source (e.g. /usr/lib/prosody)
-- opts.version       "0.12", "13" or "13-latest": how "prosody.*" module names resolve
-- opts.release       prosody.version, as the source's prosody.version file
--                    says ("13.0.6"); read from it when not given (real Lua)
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
	self.release = opts.release or read_release(self.source);
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
		["util.sasl"] = stubs.sasl, ["socket.url"] = stubs.socket_url, ["util.timer"] = stubs.timer, ["util.net"] = stubs.net,
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
		version = self.release,
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

-- Sessions, stanza processing and the client shortcuts: sessions.lua.
require "sessions"(Sim);
-- Invites from outside, the registration form, web registration, roles: helpers.lua.
require "helpers"(Sim);

return Sim;
