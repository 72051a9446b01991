// Compile tests of the typed Prosody API (src/types/): chosen snippets
// become the Lua a Prosody developer would write — `:` for methods, `.`
// for plain functions — and misuse does not type-check.
import { transpile } from "../support/transpile.js";

function lua(code: string): string {
	const result = transpile(code);
	expect(result.diagnostics).toEqual([]);
	return result.lua;
}

function errors(code: string): string[] {
	return transpile(code).diagnostics;
}

describe("the module API", () => {
	test("hook() types the handler's event from the event name", () => {
		expect(lua(`module.hook("user-registering", (event) => { event.allowed = false; event.reason = event.username; });`)).toBe(
			[
				"module:hook(",
				'    "user-registering",',
				"    function(event)",
				"        event.allowed = false",
				"        event.reason = event.username",
				"    end",
				")",
			].join("\n"),
		);
	});

	test("a handler reading a field its event does not have does not compile", () => {
		expect(errors(`module.hook("stream-features", (event) => { event.stanza; });`)).toEqual([
			expect.stringMatching(/^TS2339: Property 'stanza' does not exist on type 'StreamFeaturesEvent'/),
		]);
	});

	test("a handler declared for another event's payload does not compile", () => {
		expect(errors(`module.hook("presence/bare", (event: P.UserRegisteringEvent) => { event.allowed = true; });`)).toHaveLength(1);
	});

	test("an unknown event name does not compile", () => {
		expect(errors(`module.hook("user-registred", () => {});`)).toHaveLength(1);
	});

	test("any stanza/iq/<xmlns>:<name> event is a stanza event from a session", () => {
		expect(lua(`module.hook("stanza/iq/jabber:iq:version:query", (event) => { event.origin.send(st.reply(event.stanza)); return true; }, 5);`)).toContain(
			"event.origin.send(st.reply(event.stanza))",
		);
	});

	test("options: get_option_boolean may return nil, which the caller must handle", () => {
		expect(errors(`const b: boolean = module.get_option_boolean("x", true);`)).toEqual([
			expect.stringMatching(/^TS2322: Type 'boolean \| undefined' is not assignable to type 'boolean'/),
		]);
		expect(lua(`const b: boolean = module.get_option_boolean("x", true) ?? true;`)).toContain('module:get_option_boolean("x", true)');
	});

	test("depends() returns mod_invites' typed API", () => {
		expect(lua(`const invites: P.ModInvites = module.depends("invites"); const [invite, err] = invites.get("t");`)).toBe(
			['local invites = module:depends("invites")', 'local invite, err = invites.get("t")'].join("\n"),
		);
		expect(errors(`const invites: P.ModInvites = module.depends("register_ibr");`)[0]).toMatch(
			/^TS2740: Type 'LuaTable<string, unknown>' is missing the following properties from type 'ModInvites'/,
		);
	});

	test("log, send and open_store are methods; map stores take (user, key, value)", () => {
		expect(
			lua(`module.log("debug", "x %s", 1); module.send(st.presence({ type: "subscribe" })); module.open_store<true>("groups", "map").set("crew", "alice", true);`),
		).toBe(
			[
				'module:log("debug", "x %s", 1)',
				'module:send(st.presence({type = "subscribe"}))',
				'module:open_store("groups", "map"):set("crew", "alice", true)',
			].join("\n"),
		);
		expect(errors(`module.open_store("groups", "map").set("crew", "alice");`)).toHaveLength(1);
	});

	test("fire_event() checks the payload against the event name", () => {
		expect(errors(`module.fire_event("user-deleted", { username: "a" });`)).toHaveLength(1);
		expect(lua(`module.fire_event("user-deleted", { username: "a", host: module.host });`)).toBe(
			'module:fire_event("user-deleted", {username = "a", host = module.host})',
		);
	});
});

describe("the module API: the rest of core/moduleapi.lua", () => {
	test("add_timer() is a method; its callback returns the next delay; the timer's stop() is a method", () => {
		expect(lua(`module.add_timer(5, () => 10);`)).toBe(["module:add_timer(", "    5,", "    function() return 10 end", ")"].join("\n"));
		expect(lua(`const t = module.add_timer(1, (now, user: string) => { print(now, user); }, "alice"); t.stop();`)).toBe(
			["local t = module:add_timer(", "    1,", "    function(now, user)", "        print(now, user)", "    end,", '    "alice"', ")", "t:stop()"].join("\n"),
		);
		expect(errors(`module.add_timer(1, (now, user: string) => { print(now, user); }, 42);`)).toHaveLength(1);
	});

	test("13-only methods are optional: they must be checked for before use", () => {
		expect(errors(`module.get_option_period("invite_expiry", "1 week");`)).toEqual([
			expect.stringMatching(/^TS2722: Cannot invoke an object which is possibly 'undefined'/),
		]);
		expect(lua(`if (module.get_option_period) { const ttl = module.get_option_period("invite_expiry", "1 week"); }`)).toBe(
			["if module.get_option_period then", '    local ttl = module:get_option_period("invite_expiry", "1 week")', "end"].join("\n"),
		);
		expect(lua(`const ttl = module.get_option_period?.("invite_expiry", "1 week") ?? 604800;`)).toContain('____opt_0(module, "invite_expiry", "1 week")');
		expect(lua(`if (module.may && module.may(":create", "alice@example.com")) { module.log("info", "ok"); }`)).toBe(
			['if module.may and module:may(":create", "alice@example.com") then', '    module:log("info", "ok")', "end"].join("\n"),
		);
	});

	test("get_option_enum() returns whatever is configured, so it must be narrowed", () => {
		expect(errors(`if (module.get_option_enum) { const mode: "a" | "b" = module.get_option_enum("mode", "a", "b"); }`)).toEqual([
			expect.stringMatching(/^TS2322: Type 'unknown' is not assignable to type '"a" \| "b"'/),
		]);
	});

	test("get_option_set() returns a util.set: contains() and items() are methods", () => {
		expect(lua(`const s = module.get_option_set("admins", []); if (s?.contains("a@b")) { for (const item of s.items()) { print(item); } }`)).toBe(
			[
				'local s = module:get_option_set("admins", {})',
				'if s and s:contains("a@b") then',
				"    for item in s:items() do",
				"        print(item)",
				"    end",
				"end",
			].join("\n"),
		);
	});

	test("send_iq() returns a util.promise chained with :next()", () => {
		expect(lua(`module.send_iq(st.iq({ type: "get", id: "v1", to: "example.com" })).next((event) => { print(event.stanza.name); }, (err) => { print(err); });`)).toBe(
			[
				'module:send_iq(st.iq({type = "get", id = "v1", to = "example.com"})):next(',
				"    function(event)",
				"        print(event.stanza.name)",
				"    end,",
				"    function(err)",
				"        print(err)",
				"    end",
				")",
			].join("\n"),
		);
	});

	test("daily() takes a name or not; hook_tag() takes an xmlns or not", () => {
		expect(lua(`module.daily("cleanup", (task, now) => { print(task.name, now); }); module.hourly(() => {});`)).toBe(
			['module:daily(', '    "cleanup",', "    function(task, now)", "        print(task.name, now)", "    end", ")", "module:hourly(function()", "end)"].join("\n"),
		);
		expect(lua(`module.hook_tag("http://etherx.jabber.org/streams", "features", (origin, stanza) => { origin.send(stanza); return true; }, 10);`)).toContain(
			'module:hook_tag(\n    "http://etherx.jabber.org/streams",\n    "features",',
		);
		expect(errors(`module.hook_tag("features", () => true, 10);`)).toHaveLength(1);
	});

	test("measure() returns a function; metric() a family whose metrics have methods", () => {
		expect(lua(`const count = module.measure("invites", "rate"); count(); const m = module.metric("counter", "invites", "", "Invites", ["type"]); m.with_labels("account").add(1);`)).toBe(
			[
				'local count = module:measure("invites", "rate")',
				"count()",
				"local m = module:metric(",
				'    "counter",',
				'    "invites",',
				'    "",',
				'    "Invites",',
				'    {"type"}',
				")",
				'm:with_labels("account"):add(1)',
			].join("\n"),
		);
		expect(errors(`module.metric("counter", "x", "", "d", []).with_labels().sample(1);`)).toHaveLength(1);
	});

	test("a soft dependency (13) returns the environment or nil and why", () => {
		expect(lua(`const [groups, err] = module.depends("groups_internal", true); if (!groups) { module.log("debug", "no groups: %s", err); }`)).toBe(
			['local groups, err = module:depends("groups_internal", true)', "if not groups then", '    module:log("debug", "no groups: %s", err)', "end"].join("\n"),
		);
	});

	test("events objects: hook_object_event()/hook_global() are methods, util.events' functions are plain", () => {
		expect(
			lua(`module.hook_object_event(prosody.events, "server-started", () => { prosody.events.fire_event("x"); }); module.hook_global<{ host: string }>("host-activated", (event) => { print(event.host); });`),
		).toBe(
			[
				"module:hook_object_event(",
				"    prosody.events,",
				'    "server-started",',
				"    function()",
				'        prosody.events.fire_event("x")',
				"    end",
				")",
				"module:hook_global(",
				'    "host-activated",',
				"    function(event)",
				"        print(event.host)",
				"    end",
				")",
			].join("\n"),
		);
	});

	test("get_status() returns three values; set_status() takes a known status type", () => {
		expect(lua(`const [kind, message] = module.get_status(); module.set_status("warn", "degraded");`)).toBe(
			['local kind, message = module:get_status()', 'module:set_status("warn", "degraded")'].join("\n"),
		);
		expect(errors(`module.set_status("debug", "x");`)).toHaveLength(1);
	});
});

describe("util.stanza", () => {
	test("builders are functions, stanza methods are methods", () => {
		expect(lua(`const s = st.iq({ type: "set", id: "1" }).tag("preauth", { xmlns: "urn:xmpp:pars:0", token: "t" }).up(); s.get_child("preauth", "urn:xmpp:pars:0");`)).toBe(
			[
				'local s = st.iq({type = "set", id = "1"}):tag("preauth", {xmlns = "urn:xmpp:pars:0", token = "t"}):up()',
				's:get_child("preauth", "urn:xmpp:pars:0")',
			].join("\n"),
		);
	});

	test("error_reply() needs a type and a defined condition", () => {
		expect(errors(`declare const s: P.Stanza; st.error_reply(s, "cancel");`)).toEqual([expect.stringMatching(/^TS2554: Expected 3-5 arguments, but got 2/)]);
		expect(errors(`declare const s: P.Stanza; st.error_reply(s, "cancel", "no-such-condition");`)).toHaveLength(1);
		expect(errors(`declare const s: P.Stanza; st.error_reply(s, "fatal", "forbidden");`)).toHaveLength(1);
	});

	test("an IQ needs a type and an id", () => {
		expect(errors(`st.iq({ type: "get" });`)).toHaveLength(1);
	});
});

describe("util.jid, rostermanager, usermanager", () => {
	test("multiple returns are destructured into locals", () => {
		expect(lua(`const [node, host] = jid.split("a@b/c"); const [subscribed] = rostermanager.is_user_subscribed("a", "b", "c@d");`)).toBe(
			['local node, host = jid.split("a@b/c")', 'local subscribed = rostermanager.is_user_subscribed("a", "b", "c@d")'].join("\n"),
		);
	});

	test("rostermanager functions need username, host and JID", () => {
		expect(errors(`rostermanager.roster_push("alice", "example.com");`)).toEqual([expect.stringMatching(/^TS2554: Expected 3 arguments, but got 2/)]);
	});

	test("the 13-only role API must be checked for before use", () => {
		expect(errors(`usermanager.set_user_role("alice", "example.com", "prosody:admin");`)).toEqual([
			expect.stringMatching(/^TS2722: Cannot invoke an object which is possibly 'undefined'/),
		]);
		expect(lua(`if (usermanager.set_user_role) { usermanager.set_user_role("alice", "example.com", "prosody:admin"); }`)).toBe(
			["if usermanager.set_user_role then", '    usermanager.set_user_role("alice", "example.com", "prosody:admin")', "end"].join("\n"),
		);
	});
});

describe("mod_invites", () => {
	test("a validated invite is used with a method call", () => {
		expect(lua(`declare const invites: P.ModInvites; const [invite] = invites.get("t"); if (invite) { invite.use(); }`)).toBe(
			['local invite = invites.get("t")', "if invite then", "    invite:use()", "end"].join("\n"),
		);
	});

	test("pending_account_invites() returns Lua's three-value iterator: for-of becomes a generic for", () => {
		expect(lua(`declare const invites: P.ModInvites; for (const [token, invite] of invites.pending_account_invites()) { print(token, invite.expires); }`)).toBe(
			["for token, invite in invites.pending_account_invites() do", "    print(token, invite.expires)", "end"].join("\n"),
		);
		// The three values themselves: iterator function, state (the invites by token), initial key.
		expect(lua(`declare const invites: P.ModInvites; const [next_invite, state, first] = invites.pending_account_invites(); const [token] = next_invite(state, first);`)).toBe(
			["local next_invite, state, first = invites.pending_account_invites()", "local token = next_invite(state, first)"].join("\n"),
		);
	});

	test("get() may fail, so its invite cannot be used unchecked", () => {
		expect(errors(`declare const invites: P.ModInvites; const [invite] = invites.get("t"); invite.use();`)).toEqual([
			expect.stringMatching(/^TS18048: 'invite' is possibly 'undefined'/),
		]);
	});

	test("sessions' send is a plain function; the session remembers the invite", () => {
		expect(lua(`declare const s: P.Session; declare const i: P.ValidInvite; s.validated_invite = i; s.send("<x/>");`)).toBe(
			["s.validated_invite = i", 's.send("<x/>")'].join("\n"),
		);
	});
});
