-- core.storagemanager in memory. Stores behave like Prosody's internal
-- (file) storage: a map store reads and writes the keyval data of the same
-- name, and values are copied in and out as if serialised.
--
-- Two knobs for tests:
--   sim.storage.yielding = true  every call first yields the running
--                                coroutine, as a storage driver that waits
--                                on I/O would, letting other sessions run.
--   sim.storage:fail(store, how, op) calls on that store (only `op`, e.g.
--                                "set", when given) fail: how = "error"
--                                returns nil, err (as drivers do); "raise"
--                                raises a Lua error; nil heals.
-- sim.storage.writes[store] counts the set and set_keys calls on each store
-- (failed ones too): what a test asserts was not written.
local storage = {};

local function copy(value)
	if type(value) ~= "table" then return value; end
	local out = {};
	for k, v in pairs(value) do out[copy(k)] = copy(v); end
	return out;
end

local HOST_KEY = "@host"; -- stands for the nil username (host-wide data)

function storage.new()
	-- whole_reads: reads of a whole host-wide store (keyval get(nil), map
	-- get_all), by store name: for "invite_token", a read of every pending invite.
	-- host_reads: map get(nil, key) by store name, which on file storage
	-- loads the host's whole store (for "invite_token", every pending invite).
	local state = { data = {}, yielding = false, failing = {}, calls = 0, writes = {}, whole_reads = {}, host_reads = {} };
	local remove = {}; -- the sentinel set_keys() takes for "delete this key"

	local function may_yield()
		if not state.yielding then return; end
		local co, main = coroutine.running();
		if co and not main then coroutine.yield("storage"); end
	end

	local function enter(store_name, op)
		state.calls = state.calls + 1;
		if op == "set" or op == "set_keys" then state.writes[store_name] = (state.writes[store_name] or 0) + 1; end
		may_yield();
		local failing = state.failing[store_name];
		local how = failing and (failing.op == nil or failing.op == op) and failing.how;
		if how == "raise" then
			error("simulated storage failure in " .. store_name .. ":" .. op);
		elseif how == "error" then
			return nil, "simulated storage failure";
		end
		return true;
	end

	local function bucket(host, store_name)
		local host_data = state.data[host];
		if not host_data then host_data = {}; state.data[host] = host_data; end
		local store_data = host_data[store_name];
		if not store_data then store_data = {}; host_data[store_name] = store_data; end
		return store_data;
	end

	function state.fail(_, store_name, how, op)
		state.failing[store_name] = how and { how = how, op = op } or nil;
	end

	function state.open(host, store_name, store_type)
		local data = bucket(host, store_name);
		local store = { remove = remove, name = store_name, type = store_type or "keyval" };
		local function key(user) return user == nil and HOST_KEY or user; end

		if store.type == "map" then
			function store:get(user, k)
				if user == nil then state.host_reads[store_name] = (state.host_reads[store_name] or 0) + 1; end
				local ok, err = enter(store_name, "get");
				if not ok then return nil, err; end
				local d = data[key(user)];
				return copy(d and d[k]);
			end
			function store:set(user, k, v)
				local ok, err = enter(store_name, "set");
				if not ok then return nil, err; end
				local d = data[key(user)];
				if not d then d = {}; data[key(user)] = d; end
				d[k] = copy(v);
				if next(d) == nil then data[key(user)] = nil; end
				return true;
			end
			function store:set_keys(user, keymap)
				local ok, err = enter(store_name, "set_keys");
				if not ok then return nil, err; end
				local d = data[key(user)] or {};
				for k, v in pairs(keymap) do
					if v == remove then d[k] = nil; else d[k] = copy(v); end
				end
				data[key(user)] = next(d) ~= nil and d or nil;
				return true;
			end
			function store:get_all(k)
				state.whole_reads[store_name] = (state.whole_reads[store_name] or 0) + 1;
				local ok, err = enter(store_name, "get_all");
				if not ok then return nil, err; end
				local out = {};
				for user, d in pairs(data) do
					if d[k] ~= nil then out[user] = copy(d[k]); end
				end
				return out;
			end
		else
			function store:get(user)
				if user == nil then state.whole_reads[store_name] = (state.whole_reads[store_name] or 0) + 1; end
				local ok, err = enter(store_name, "get");
				if not ok then return nil, err; end
				return copy(data[key(user)]);
			end
			function store:set(user, v)
				local ok, err = enter(store_name, "set");
				if not ok then return nil, err; end
				data[key(user)] = copy(v);
				return true;
			end
			function store:users()
				local users = {};
				for user in pairs(data) do if user ~= HOST_KEY then users[#users + 1] = user; end end
				local i = 0;
				return function () i = i + 1; return users[i]; end;
			end
		end
		return store;
	end

	function state.purge(user, host)
		for _, store_data in pairs(state.data[host] or {}) do store_data[user] = nil; end
		return true;
	end

	-- Direct access for assertions, bypassing knobs and copies.
	function state.peek(_, host, store_name, user)
		local d = (state.data[host] or {})[store_name];
		if not d then return nil; end
		return d[user == nil and HOST_KEY or user];
	end

	-- core.storagemanager's interface, as the code under test sees it.
	state.manager = {
		sim_state = state; -- for the simulated SQL driver
		open = function (host, store_name, store_type) return state.open(host, store_name, store_type); end;
		purge = state.purge;
		initialize_host = function () end;
		-- The driver a store would use and its name, from the host's
		-- `storage` option; "sql" loads the simulated mod_storage_sql's
		-- shared connection (modules/mod_storage_sim_sql.lua).
		get_driver = function (host, store_name)
			local configured = state.configured_storage and state.configured_storage(host, store_name) or nil;
			if configured == "sql" and state.load_sql then state.load_sql(host); end
			return { name = configured or "internal" }, configured or "internal";
		end;
	};
	return state;
end

return storage;
