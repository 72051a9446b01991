-- A busted-compatible runner for Lua VMs that cannot run busted itself
-- (fengari under jest): it loads *_spec.lua files with busted's globals
-- (describe, it, pending, before_each, after_each, setup, teardown) and
-- luassert as `assert` — the very luassert Debian's busted uses — and runs
-- one test at a time so that each becomes a jest test.
--
--   local runner = require "busted_compat";
--   local tests = runner.load("spec/mod_invites_register_spec.lua");
--   runner.run(tests[1].id)   -- "passed", "pending", or raises the failure
local runner = {};

package.path = "/usr/share/lua/5.1/?.lua;/usr/share/lua/5.1/?/init.lua;" .. package.path;
local luassert = require "luassert";
local spy, stub, mock = require "luassert.spy", require "luassert.stub", require "luassert.mock";

local PENDING = setmetatable({}, { __tostring = function () return "pending"; end });

local tests = {};

local function new_block(name, parent)
	return { name = name, parent = parent, before_each = {}, after_each = {}, setup = {}, teardown = {}, setup_done = false };
end

local function full_name(block, name)
	local parts = { name };
	while block and block.name do
		table.insert(parts, 1, block.name);
		block = block.parent;
	end
	return table.concat(parts, " ");
end

function runner.load(path)
	local root = new_block(nil, nil);
	local current = root;
	local env = setmetatable({}, { __index = _G });
	env.assert, env.spy, env.stub, env.mock = luassert, spy, stub, mock;
	env.describe = function (name, fn)
		local block = new_block(name, current);
		local outer = current;
		current = block;
		fn();
		current = outer;
	end
	env.context = env.describe;
	env.it = function (name, fn)
		tests[#tests + 1] = { id = #tests + 1, name = full_name(current, name), fn = fn, block = current };
	end
	env.pending = function (name)
		if type(name) == "string" and current then
			tests[#tests + 1] = { id = #tests + 1, name = full_name(current, name), block = current, pending = true };
		end
		error(PENDING, 0);
	end
	for _, hook in ipairs({ "before_each", "after_each", "setup", "teardown" }) do
		env[hook] = function (fn) table.insert(current[hook], fn); end
	end
	env.lazy_setup, env.strict_setup = env.setup, env.setup;
	env.lazy_teardown, env.strict_teardown = env.teardown, env.teardown;
	local chunk = assert(loadfile(path, "t", env));
	local first = #tests + 1;
	local ok, err = pcall(chunk);
	if not ok and err ~= PENDING then error(err, 0); end
	local out = {};
	for i = first, #tests do
		out[#out + 1] = { id = tests[i].id, name = tests[i].name, pending = tests[i].pending or false };
	end
	return out;
end

local function chain(block)
	local blocks = {};
	while block do
		table.insert(blocks, 1, block);
		block = block.parent;
	end
	return blocks;
end

--- Runs one test with its blocks' setup (once), before_each and after_each hooks.
function runner.run(id)
	local test = assert(tests[id], "no such test");
	if test.pending then return "pending"; end
	local blocks = chain(test.block);
	for _, block in ipairs(blocks) do
		if not block.setup_done then
			block.setup_done = true;
			for _, fn in ipairs(block.setup) do fn(); end
		end
	end
	for _, block in ipairs(blocks) do
		for _, fn in ipairs(block.before_each) do fn(); end
	end
	local ok, err = pcall(test.fn);
	for i = #blocks, 1, -1 do
		for _, fn in ipairs(blocks[i].after_each) do
			local after_ok, after_err = pcall(fn);
			if ok and not after_ok then ok, err = false, after_err; end
		end
	end
	if not ok then
		if err == PENDING then return "pending"; end
		error(tostring(err), 0);
	end
	return "passed";
end

return runner;
