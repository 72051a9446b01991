-- What tests ask of the simulated server beyond its sessions: invites
-- written from outside, the registration form, a web registration, a
-- user's roles. Adds these methods to Sim (init.lua); prosody_sim.ts calls
-- them, so the Lua of the simulator lives in this folder only.
return function (Sim)

--- An account invite for `username` (nil: any) written to storage by
-- another process (prosodyctl, another server sharing the database): no
-- invite-created event reaches this server.
function Sim:create_elsewhere(username, ttl)
	local token = ("Elsewhere%015d"):format(self.random(1, 2147483646)); -- 24 characters, as mod_invites makes them
	local jid = username and (username .. "@" .. self.host) or self.host; -- without a username: an open invite
	local invite = {
		type = "register", jid = jid, token = token, allow_registration = true,
		uri = "xmpp:" .. jid .. "?register;preauth=" .. token,
		created_at = self.now, expires = self.now + ttl,
	};
	assert(self.storage.open(self.host, "invite_token", "map"):set(nil, token, invite));
	return invite;
end

--- The In-Band Registration form a session gets.
function Sim:registration_form(session)
	local get = self.st.iq({ type = "get", id = "form" }):tag("query", { xmlns = "jabber:iq:register" }):up();
	return self:send(session, get)[1];
end

--- Registers as mod_invites_register_web does, without a session: the
-- token checked with mod_invites' get(), then user-registering with
-- validated_invite (no token: as a web registration form without invite).
function Sim:web_register(token, username)
	local events = self.prosody.hosts[self.host].events;
	local invite;
	if token then
		invite = self:module("invites").get(token);
		if not invite then return { outcome = "invalid-invite" }; end
	end
	local registering = { username = username, host = self.host, validated_invite = invite, allowed = true, ip = "127.0.0.1" };
	events.fire_event("user-registering", registering);
	if not registering.allowed then
		return { outcome = "refused", reason = registering.reason, error = registering.error };
	end
	assert(self:create_user(username));
	events.fire_event("user-registered", { username = username, host = self.host, validated_invite = invite, source = "mod_invites_register_web" });
	return { outcome = "registered" };
end

--- A user's roles: on 13 the primary and secondary roles (usermanager's
-- role API), on 0.12 the role set (get_roles).
function Sim:roles_of(username)
	local um, host = self.usermanager, self.host;
	local function sorted(t)
		local out = {};
		for name, v in pairs(t or {}) do if v then out[#out + 1] = name; end end
		table.sort(out);
		return out;
	end
	if um.get_user_role then
		local role = um.get_user_role(username, host);
		return { primary = role and role.name, secondary = sorted(um.get_user_secondary_roles(username, host)) };
	end
	return { set = sorted(um.get_roles(username .. "@" .. host, host)) };
end

end
