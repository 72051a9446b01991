/**
 * Many pending invites, fast, for the benchmarks and the scale tests.
 */
import type { ProsodyServer } from "./prosody_server.js";

/**
 * Fills the invite store up to `pending` account invites in one shell call
 * and returns the tokens of `use` of them. One invite comes from
 * mod_invites' create_account(); the others are copies of its stored record
 * with their own token (util.id.medium(), as mod_invites makes them) and
 * URI, written with one keyval set of the whole store: creating them one by
 * one would rewrite the whole file store per invite.
 */
export async function fillInviteStore(server: ProsodyServer, pending: number, use: number): Promise<string[]> {
	return server.lua<string[]>(`(function ()
		local created = assert(host.modules.invites.create_account());
		local store = require "core.storagemanager".open(${JSON.stringify(server.domain)}, "invite_token", "keyval");
		local all = assert(store:get(nil));
		local template = assert(all[created.token], "the created invite is not in the store");
		local new_id = require "util.id".medium;
		local at = assert(template.uri:find(created.token, 1, true));
		local tokens = { created.token };
		for i = 2, ${pending} do
			local token = new_id();
			local invite = {};
			for k, v in pairs(template) do invite[k] = v; end
			invite.token = token;
			invite.uri = template.uri:sub(1, at - 1) .. token .. template.uri:sub(at + #created.token);
			all[token] = invite;
			if i <= ${use} then tokens[i] = token; end
		end
		assert(store:set(nil, all));
		all = nil;
		collectgarbage("collect");
		return tokens;
	end)()`);
}
