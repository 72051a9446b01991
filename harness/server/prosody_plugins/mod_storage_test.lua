-- A storage driver for tests and benchmarks only: it wraps another driver
-- (`test_storage_backend`, default "internal"), counts every call of every
-- store (by store name and method), and makes chosen calls slow or fail,
-- as a slow or failing database would. Load it with
--   storage = "test"; test_storage_backend = "sql" -- or "internal"
-- and drive it from the admin shell:
--   > prosody.hosts["localhost"].modules.storage_test.counts()
--   > prosody.hosts["localhost"].modules.storage_test.fault("accounts", "set", "sleep", 2)
--   > prosody.hosts["localhost"].modules.storage_test.fault("invite_token", "get", "error")
--   > prosody.hosts["localhost"].modules.storage_test.fault("accounts", "set", nil) -- heals
-- "sleep" waits with util.async (other sessions run meanwhile, as with an
-- asynchronous driver); "error" returns nil and an error, as drivers do.
-- Not for production.
local async, storagemanager;
do
	local ok, sm = pcall(require, "prosody.core.storagemanager");
	storagemanager = ok and sm or require "core.storagemanager";
	local ok_async, a = pcall(require, "prosody.util.async");
	async = ok_async and a or require "util.async";
end

local backend_name = module:get_option_string("test_storage_backend", "internal");
local calls = {}; -- "store method" (keyval stores) or "store/type method" → count
local faults = {}; -- "store method" → { how = "sleep" | "error", seconds = n }

local function inject(store_name, method)
	local f = faults[store_name .. " " .. method];
	if not f then return true; end
	if f.how == "sleep" then
		if async.ready() then async.sleep(f.seconds or 1); end
		return true;
	end
	return nil, "test storage failure in " .. store_name .. ":" .. method;
end

local function wrapped_store(store, name, store_name)
	return setmetatable({}, {
		__index = function (proxy, method)
			local original = store[method];
			if type(original) ~= "function" then
				return original; -- e.g. the map store's `remove` sentinel
			end
			local key = name .. " " .. method;
			local wrapped = function (_, ...)
				calls[key] = (calls[key] or 0) + 1;
				local ok, err = inject(store_name, method);
				if not ok then return nil, err; end
				return original(store, ...);
			end
			rawset(proxy, method, wrapped);
			return wrapped;
		end;
	});
end

local function backend()
	return assert(storagemanager.load_driver(module.host, backend_name), "no storage driver " .. backend_name);
end

local driver = {};

function driver:open(store_name, store_type) -- luacheck: ignore 212/self
	local store, err = backend():open(store_name, store_type);
	if not store then return store, err; end
	local name = (store_type == nil or store_type == "keyval") and store_name or (store_name .. "/" .. store_type);
	return wrapped_store(store, name, store_name);
end

function driver:purge(username) -- luacheck: ignore 212/self
	calls["* purge"] = (calls["* purge"] or 0) + 1;
	return backend():purge(username);
end

module:provides("storage", driver);

-- The counts so far (a copy), for the admin shell.
function counts() -- luacheck: ignore 111
	local copy = {};
	for k, v in pairs(calls) do copy[k] = v; end
	return copy;
end

-- Makes `method` calls on store `store_name` slow ("sleep", seconds) or fail ("error"); nil heals.
function fault(store_name, method, how, seconds) -- luacheck: ignore 111
	faults[store_name .. " " .. method] = how and { how = how, seconds = seconds } or nil;
	return true;
end
