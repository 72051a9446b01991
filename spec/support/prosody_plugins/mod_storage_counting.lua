-- A storage driver for tests and benchmarks only: it wraps another driver
-- (`counting_storage_backend`, default "internal") and counts every call of
-- every store, by store name and method, so that a benchmark can say how
-- many store operations a registration costs. Load it with
--   storage = "counting"; counting_storage_backend = "sql" -- or "internal"
-- and read the counts from the admin shell:
--   > prosody.hosts["localhost"].modules.storage_counting.counts()
-- Not for production: it keeps a table of counters and adds a call per
-- store operation.
local storagemanager;
do
	local ok, sm = pcall(require, "prosody.core.storagemanager");
	storagemanager = ok and sm or require "core.storagemanager";
end

local backend_name = module:get_option_string("counting_storage_backend", "internal");
local calls = {}; -- "store method" (keyval stores) or "store/type method" (e.g. "invite_token/map get") → count

local function counted(store, name)
	return setmetatable({}, {
		__index = function (proxy, method)
			local original = store[method];
			if type(original) ~= "function" then
				return original; -- e.g. the map store's `remove` sentinel
			end
			local key = name .. " " .. method;
			local wrapped = function (_, ...)
				calls[key] = (calls[key] or 0) + 1;
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
	return counted(store, (store_type == nil or store_type == "keyval") and store_name or (store_name .. "/" .. store_type));
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
