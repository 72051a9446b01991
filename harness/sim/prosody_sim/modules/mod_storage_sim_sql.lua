-- What mod_storage_sql shares with other modules, for the simulator: a
-- connection ("engine") under "/*/sql/connections" whose select answers
-- the two queries this module runs on the table (src/sql_invite_pages.ts):
-- a page of a store's keys after a key, and the rows of a range of keys,
-- from the simulator's storage (the same data every store reads), with the
-- values JSON-encoded as mod_storage_sql stores tables. Loaded by the
-- simulated storagemanager when a host's storage is "sql". Counts for
-- tests: sim.storage.sql_engine.pages (pages of keys), .rows (keys listed),
-- .records (rows read with their values). A
-- failing store (sim.storage:fail) makes the select raise, as a database error does.
local json = require "util.json";
local storage = require "core.storagemanager".sim_state; -- the simulator's storage (storage.lua)

local params = module:get_option("sql", { driver = "SQLite3" });
local engine = {
	params = { driver = params.driver, database = params.database, username = params.username, password = params.password, host = params.host, port = params.port },
	pages = 0, rows = 0, records = 0,
};

function engine:transaction(f, ...) -- luacheck: ignore 212/self
	local ok, ret = pcall(f, ...);
	if not ok then return false, ret; end
	return true, ret;
end

local TOKENS = '^SELECT "key" FROM "prosody" WHERE "host"=%? AND "user"=%? AND "store"=%? AND "key">%? ORDER BY "key" LIMIT (%d+)$';
local RECORDS = '^SELECT "key","type","value" FROM "prosody" WHERE "host"=%? AND "user"=%? AND "store"=%? AND "key">%? AND "key"<=%? ORDER BY "key" LIMIT (%d+)$';

function engine:select(sql, host, user, store, after, last)
	local limit = tonumber(sql:match(TOKENS));
	local record_limit = tonumber(sql:match(RECORDS));
	local with_values = record_limit ~= nil;
	limit = limit or record_limit;
	assert(limit or with_values, "the simulated SQL engine knows only the two page queries: " .. sql);
	assert(user == "", "host-wide rows only");
	local failing = storage.failing[store];
	if failing and (failing.op == nil or failing.op == "get") then error("simulated database failure"); end
	if not with_values then self.pages = self.pages + 1; end
	local data = storage:peek(host, store, nil) or {};
	local keys = {};
	for key in pairs(data) do
		if key > after and (last == nil or key <= last) then keys[#keys + 1] = key; end
	end
	table.sort(keys);
	local i = 0;
	return function ()
		i = i + 1;
		if (limit and i > limit) or keys[i] == nil then return nil; end
		if not with_values then
			self.rows = self.rows + 1;
			return { keys[i] };
		end
		self.records = self.records + 1;
		return { keys[i], "json", json.encode(data[keys[i]]) };
	end;
end

storage.sql_engine = engine;
module:shared("/*/sql/connections")["SQLite3:///" .. tostring(params.database)] = engine;
