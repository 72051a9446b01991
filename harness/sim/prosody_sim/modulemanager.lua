-- core.modulemanager for the simulator: finds a module in the plugin paths
-- (then in Prosody's own modules folder) and loads it the way Prosody's
-- do_load_module does: an API object whose methods come from Prosody's real
-- core.moduleapi, and an environment whose `module` is that object.
local modulemanager = {};

local function file_exists(path)
	local f = loadfile(path);
	return f ~= nil;
end

function modulemanager.new(sim)
	local mm = { loaded = { ["*"] = {} } };

	local function find(name)
		for _, dir in ipairs(sim.plugin_paths) do
			local path = dir .. "/mod_" .. name .. ".lua";
			if file_exists(path) then return path; end
		end
		return nil;
	end

	local function modules_of(host)
		if host == "*" then return mm.loaded["*"]; end
		local host_session = sim.prosody.hosts[host];
		return host_session and host_session.modules;
	end

	function mm.get_module(host, name)
		local modules = modules_of(host);
		return modules and modules[name];
	end

	function mm.module_has_method(mod, method)
		return type(rawget(mod.module, method)) == "function";
	end

	function mm.get_modules_for_host(host)
		local names = {};
		for name in pairs(modules_of(host) or {}) do names[#names + 1] = name; end
		return sim.require("util.set").new(names);
	end

	function mm.is_loaded(host, name)
		return mm.get_module(host, name) ~= nil;
	end

	function mm.load(host, name)
		local modules = modules_of(host);
		if not modules then return nil, "unknown-host"; end
		if modules[name] then return nil, "module-already-loaded"; end
		if sim.unavailable_modules[name] then return nil, "module not found: mod_" .. name; end
		local path = find(name);
		if not path then return nil, "module not found: mod_" .. name; end

		local api = sim.require("core.moduleapi");
		local _log = sim.require("util.logger").init(host .. ":" .. name);
		local api_instance = setmetatable({
			name = name, host = host,
			_log = _log, log = function (self, ...) return _log(...); end, -- luacheck: ignore 212/self
			event_handlers = sim.require("util.multitable").new(),
			reloading = false,
		}, { __index = api });
		local pluginenv = setmetatable({ module = api_instance }, { __index = sim.env });
		if sim.strict_globals[name] then
			-- Any global write, or read of a global that does not exist, is an error.
			setmetatable(pluginenv, {
				__index = function (_, key)
					local value = sim.env[key];
					if value == nil then error("mod_" .. name .. " read undefined global '" .. tostring(key) .. "'", 2); end
					return value;
				end;
				__newindex = function (_, key)
					error("mod_" .. name .. " wrote global '" .. tostring(key) .. "'", 2);
				end;
			});
		end
		api_instance.environment = pluginenv;
		api_instance.path = path;

		local chunk, err = sim.loadfile(path, pluginenv);
		if not chunk then return nil, err; end
		modules[name] = pluginenv;
		local ok, load_err = xpcall(chunk, debug.traceback);
		if ok and mm.module_has_method(pluginenv, "load") then
			ok, load_err = pcall(pluginenv.module.load);
		end
		if not ok then
			modules[name] = nil;
			_log("error", "Error initializing module '%s' on '%s': %s", name, host, load_err);
			return nil, load_err;
		end
		api_instance:set_status("core", "Loaded", false);
		sim.prosody.events.fire_event("module-loaded", { module = name, host = host });
		return pluginenv;
	end

	function mm.unload(host, name)
		local mod = mm.get_module(host, name);
		if not mod then return nil, "module-not-loaded"; end
		if mm.module_has_method(mod, "unload") then pcall(mod.module.unload); end
		for object, event, handler in mod.module.event_handlers:iter(nil, nil, nil) do
			object.remove_handler(event, handler);
		end
		modules_of(host)[name] = nil;
		mod.module.loaded = false; -- as Prosody's: its timers stop (moduleapi's timer_callback)
		return true;
	end

	function mm.reload(host, name)
		mm.unload(host, name);
		return mm.load(host, name);
	end

	return mm;
end

return modulemanager;
