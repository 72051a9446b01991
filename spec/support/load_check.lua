-- Runs the built module in the simulator under whatever Lua runs this
-- file: `lua5.1 spec/support/load_check.lua <prosody source> <version>`.
-- Prints "ok" after an invite registers an account, or fails loudly.
local source, version = arg[1], arg[2];
local here = arg[0]:match("^(.*)/[^/]*$") or ".";
package.path = here .. "/../../harness/sim/?/init.lua;" .. package.path;
local Sim = require "prosody_sim";
local sim = Sim.new{
	source = source, version = version,
	plugin_paths = { here .. "/../../dist-lua" },
	strict_globals = { "invites_register" },
};
local invite = assert(sim:module("invites").create_account());
local client = sim:connect();
local preauth = sim:preauth(client, invite.token);
assert(preauth.attr.type == "result", tostring(preauth));
local registered = sim:register(client, "alice", "secret");
assert(registered.attr.type == "result", tostring(registered));
assert(sim:user_exists("alice"), "no account");
assert(#sim.errors == 0, sim.errors[1]);
print("ok " .. _VERSION .. (jit and (" " .. jit.version) or "") .. " prosody " .. version);
