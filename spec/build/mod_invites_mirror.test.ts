// src/invites.ts builds the invite mod_invites' get(token) would return
// from the record it read itself, and uses it the way mod_invites' use()
// does (so that no second read of the invite store is needed). That is
// only right while mod_invites' get() and use() are the ones mirrored: this
// test fails when a Prosody version the module supports has others. Then
// re-read them, bring invite_from_record() and use_stored_invite() in
// step, and add the new text here.
import { readFileSync } from "node:fs";
import path from "node:path";
import { prosodySource, serverVersions } from "../../harness/server/prosody_sources.js";

/** A Lua function's text, from its `function` line to the `end` at the start of a line. */
function luaFunction(source: string, header: string): string {
	const start = source.indexOf(`\nfunction ${header}`);
	if (start < 0) return `(no function ${header})`;
	const end = source.indexOf("\nend", start + 1);
	return source.slice(start + 1, end + 4).replace(/\s+/g, " ");
}

const GET = `function get(token, username)
	if not token then
		return nil, "no-token";
	end
	local valid_until, inviter;
	-- Fetch from host store (account invite)
	local token_info = token_storage:get(nil, token);
	if username then -- token being used for subscription
		-- Fetch from user store (subscription invite)
		valid_until = token_storage:get(username, token);
	else -- token being used for account creation
		valid_until = token_info and token_info.expires;
		if token_info and token_info.type == "roster" then
			username = jid_node(token_info.jid);
			inviter = username;
		end
	end
	if not valid_until then
		module:log("debug", "Got unknown token: %s", token);
		return nil, "token-invalid";
	elseif os.time() > valid_until then
		module:log("debug", "Got expired token: %s", token);
		return nil, "token-expired";
	end
	return setmetatable({
		token = token;
		username = username;
		inviter = inviter;
		type = token_info and token_info.type or "roster";
		uri = token_info and token_info.uri or get_uri("roster", username.."@"..module.host, token);
		additional_data = token_info and token_info.additional_data or nil;
		reusable = REUSABLE;
	}, valid_invite_mt);
end`;
/** 0.12.3 reads `token_info.reusable`; 13 guards it. Either way, a stored record's `reusable` (our invites take `=== true`). */
const REUSABLE = ["token_info.reusable", "token_info and token_info.reusable or false"];

const USE = `function valid_invite_methods:use()
	if self.reusable then
		return true;
	end
	if self.username then
		-- Also remove the contact invite if present, on the
		-- assumption that they now have a mutual subscription
		token_storage:set(self.username, self.token, nil);
	end
	token_storage:set(nil, self.token, nil);
	return true;
end`;

const flat = (text: string) => text.replace(/\s+/g, " ");

describe.each(serverVersions)("mod_invites of Prosody %s", (version) => {
	const source = readFileSync(path.join(prosodySource(version), "modules/mod_invites.lua"), "utf8");

	test("get() is the one src/invites.ts mirrors", () => {
		expect(REUSABLE.map((reusable) => flat(GET.replace("REUSABLE", reusable)))).toContain(luaFunction(source, "get(token, username)"));
	});

	test("use() is the one src/invites.ts mirrors, and the invites it returns have no other method", () => {
		expect(luaFunction(source, "valid_invite_methods:use()")).toBe(flat(USE));
		expect(source.match(/valid_invite_methods[.:][a-z_]+/g)).toEqual(["valid_invite_methods:use"]);
	});

	test("its store and its jid_node are the ones src/invites.ts reads and uses", () => {
		// Every assignment of token_storage opens the same store (the module's own, and the shell's).
		const stores = [...source.matchAll(/token_storage = (.*);/g)].map((m) => m[1]);
		expect(stores.length).toBeGreaterThan(0);
		expect(new Set(stores)).toEqual(new Set(['module:open_store("invite_token", "map")']));
		expect(source).toMatch(/^local jid_node = require "(?:prosody\.)?util\.jid"\.node;$/m);
	});
});
