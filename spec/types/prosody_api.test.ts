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
