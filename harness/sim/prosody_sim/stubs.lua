-- Stand-ins for the parts of Prosody that are C modules or talk to the
-- operating system. Everything else the simulator loads is Prosody's own
-- Lua source. Each stub is built per simulator (it may need the sim's
-- clock, logs or random numbers).
local stubs = {};

local function utf8_valid(s)
	if type(s) ~= "string" then return false; end
	if not s:find("[\128-\255]") then return true; end -- ASCII: as fast as Prosody's C validator
	local i, n = 1, #s;
	while i <= n do
		local c = s:byte(i);
		local len;
		if c < 0x80 then len = 1;
		elseif c >= 0xC2 and c <= 0xDF then len = 2;
		elseif c >= 0xE0 and c <= 0xEF then len = 3;
		elseif c >= 0xF0 and c <= 0xF4 then len = 4;
		else return false; end
		for j = i + 1, i + len - 1 do
			local cc = s:byte(j);
			if not cc or cc < 0x80 or cc > 0xBF then return false; end
		end
		i = i + len;
	end
	return true;
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
local function base64_encode(data)
	local out = {};
	for i = 1, #data, 3 do
		local a, b, c = data:byte(i, i + 2);
		local n = a * 65536 + (b or 0) * 256 + (c or 0);
		local c1 = math.floor(n / 262144) % 64;
		local c2 = math.floor(n / 4096) % 64;
		local c3 = math.floor(n / 64) % 64;
		local c4 = n % 64;
		out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1)
			.. (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=");
	end
	return table.concat(out);
end

-- stringprep, approximated for ASCII: what the simulator's usernames need.
-- Prohibited in nodes per RFC 6122: space, " & ' / : < > @ and controls.
local function nodeprep(s, strict) -- luacheck: ignore 212/strict
	if type(s) ~= "string" or #s > 1023 then return nil; end
	if s:find("[%z\1-\32\"&'/:<>@\127]") or not utf8_valid(s) then return nil; end
	return s:lower();
end
local function nameprep(s)
	if type(s) ~= "string" or s == "" or #s > 1023 or s:find("[%z\1-\32]") then return nil; end
	return s:lower();
end
local function resourceprep(s)
	if type(s) ~= "string" or #s > 1023 or s:find("[%z\1-\31]") then return nil; end
	return s;
end

function stubs.encodings()
	return {
		utf8 = { valid = utf8_valid, length = function(s) return #s; end };
		stringprep = { nodeprep = nodeprep, nameprep = nameprep, resourceprep = resourceprep, saslprep = resourceprep };
		base64 = { encode = base64_encode };
		idna = { to_ascii = nameprep, to_unicode = function(s) return s; end };
	};
end

function stubs.table()
	local unpack = table.unpack or unpack; -- luacheck: ignore 113
	return {
		pack = table.pack or function (...) return { n = select("#", ...), ... }; end;
		create = function () return {}; end;
		move = table.move or function (a1, f, e, t, a2)
			a2 = a2 or a1;
			for i = 0, e - f do a2[t + i] = a1[f + i]; end
			return a2;
		end;
		unpack = unpack;
	};
end

function stubs.random(sim)
	return {
		bytes = function (n)
			local out = {};
			for i = 1, n do out[i] = string.char(sim.random(0, 255)); end
			return table.concat(out);
		end;
	};
end

-- sim.time_step (seconds, default 0): how far now() moves on at each call,
-- for code that measures how long it has been running.
function stubs.time(sim)
	local calls = 0;
	local function now()
		calls = calls + 1;
		return sim.now + (sim.time_step or 0) * calls;
	end
	return { now = now, monotonic = function () return sim.now; end };
end

function stubs.pposix()
	return { getpid = function () return 1; end };
end

function stubs.debug()
	return { traceback = debug.traceback, get_locals_table = function () return {}; end };
end

function stubs.compat()
	return { xpcall = xpcall };
end

function stubs.sasl()
	return { new = function () return {}; end };
end

-- util.net (a C module): only pton(), which 13.0.6's util.jid uses to tell
-- an IP literal host from a domain. An address in binary, or nil.
function stubs.net()
	local function pton(ip)
		if type(ip) ~= "string" then return nil; end
		local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$");
		if a then
			local bytes = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) };
			for _, n in ipairs(bytes) do if n > 255 then return nil; end end
			return string.char(bytes[1], bytes[2], bytes[3], bytes[4]);
		end
		if not ip:match("^[%x:]+$") or select(2, ip:gsub("::", "")) > 1 then return nil; end
		local head, tail = ip:match("^(.-)::(.*)$");
		local function groups(text)
			local list = {};
			for group in text:gmatch("[^:]+") do
				if #group > 4 then return nil; end
				list[#list + 1] = tonumber(group, 16);
			end
			return list;
		end
		local left, right = groups(head or ip), groups(tail or "");
		if not left or not right or #left + #right > 8 or (not head and #left ~= 8) then return nil; end
		local all = {};
		for _, n in ipairs(left) do all[#all + 1] = n; end
		for _ = 1, 8 - #left - #right do all[#all + 1] = 0; end
		for _, n in ipairs(right) do all[#all + 1] = n; end
		local out = {};
		for i, n in ipairs(all) do out[i] = string.char(math.floor(n / 256), n % 256); end
		return table.concat(out);
	end
	return { pton = pton };
end

-- socket.url: only build() is used (mod_invites makes xmpp: URIs).
function stubs.socket_url()
	return {
		build = function (parts)
			return (parts.scheme and (parts.scheme .. ":") or "") .. (parts.path or "")
				.. (parts.query and ("?" .. parts.query) or "");
		end;
	};
end

-- util.timer without a network loop: tasks wait until the simulator runs them.
function stubs.timer(sim)
	local tasks, next_id = {}, 0;
	local timer = {};
	function timer.add_task(delay, callback, param)
		next_id = next_id + 1;
		tasks[next_id] = { due = sim.now + delay, callback = callback, param = param };
		return next_id;
	end
	function timer.stop(id) tasks[id] = nil; end
	function timer.reschedule(id, delay) if tasks[id] then tasks[id].due = sim.now + delay; end end
	function timer.run_due()
		for id, task in pairs(tasks) do
			if task.due <= sim.now then
				tasks[id] = nil;
				local again = task.callback(sim.now, id, task.param);
				if type(again) == "number" then tasks[id] = { due = sim.now + again, callback = task.callback, param = task.param }; end
			end
		end
	end
	return timer;
end

function stubs.statsmanager()
	local function noop() end
	local metric = setmetatable({}, { __index = function () return noop; end });
	return {
		measure = function () return noop; end;
		metric = function () return setmetatable({ with_partial_label = function () return metric; end }, { __index = metric }); end;
	};
end

-- util.logger, writing to the simulator's log instead of sinks. Messages are
-- formatted by Prosody's own util.format, as in the server.
function stubs.logger(sim)
	local format;
	local function log(name, level, message, ...)
		format = format or sim.require("util.format").format;
		local ok, text = pcall(format, message, ...);
		sim.logs[#sim.logs + 1] = { source = name, level = level, message = ok and text or tostring(message) };
	end
	return {
		init = function (name)
			return function (level, message, ...) return log(name, level, message, ...); end;
		end;
		-- Not used by the code under test; present so that callers do not fail.
		add_level_sink = function () end;
		reset = function () end;
	};
end

return stubs;
