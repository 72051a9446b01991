-- The simulator's sessions: client connections and remote servers, each
-- stanza processed in a coroutine as mod_c2s's async runner does, and the
-- shortcuts tests use to speak as a client. Adds these methods to Sim
-- (init.lua).
return function (Sim)

------------------------------------------------------------------------
-- Sessions

local session_count = 0;
local function new_session(sim, opts)
	session_count = session_count + 1;
	local session = {
		type = "c2s_unauthed", host = sim.host, id = "c2s" .. session_count,
		secure = opts.secure ~= false, ip = opts.ip or "127.0.0.1", received = {},
	};
	session.log = sim.require("util.logger").init(session.id);
	session.send = function (stanza)
		session.received[#session.received + 1] = stanza;
		return true;
	end
	session.close = function (s) sim:close(s); end
	return session;
end

--- A client connection that has not signed in (opts.secure: TLS, default true).
function Sim:connect(opts)
	return new_session(self, opts or {});
end

--- A signed-in client with a bound resource, as sessionmanager.bind_resource
--- leaves it; opts.available sends initial presence, opts.interested (default
--- true) means it fetched its roster and gets roster pushes.
function Sim:login(username, resource, opts)
	opts = opts or {};
	local host, prosody = self.host, self.prosody;
	local session = new_session(self, opts);
	session.type, session.username, session.resource = "c2s", username, resource or "res";
	session.full_jid = username .. "@" .. host .. "/" .. session.resource;
	local host_session = prosody.hosts[host];
	if not host_session.sessions[username] then
		host_session.sessions[username] = { sessions = {} };
		prosody.bare_sessions[username .. "@" .. host] = host_session.sessions[username];
	end
	host_session.sessions[username].sessions[session.resource] = session;
	prosody.full_sessions[session.full_jid] = session;
	session.roster = self.rostermanager.load_roster(username, host);
	session.interested = opts.interested ~= false;
	if opts.available then
		self:send(session, self.st.presence());
		self:take(session);
	end
	return session;
end

--- Closes a session as sessionmanager.destroy_session does (the table is
--- retired: it reads as destroyed).
function Sim:close(session)
	if session.destroyed then return; end
	local prosody = self.prosody;
	if session.full_jid then
		local host_session = prosody.hosts[session.host];
		if session.presence then
			self:send(session, self.st.presence({ type = "unavailable" }));
		end
		host_session.sessions[session.username].sessions[session.resource] = nil;
		prosody.full_sessions[session.full_jid] = nil;
		if not next(host_session.sessions[session.username].sessions) then
			host_session.sessions[session.username] = nil;
			prosody.bare_sessions[session.username .. "@" .. session.host] = nil;
		end
	end
	local received = session.received;
	for k in pairs(session) do
		if k ~= "log" and k ~= "id" and k ~= "received" then session[k] = nil; end
	end
	session.send = function () return false; end
	setmetatable(session, { __index = { destroyed = true, type = "c2s_destroyed", received = received } });
end

------------------------------------------------------------------------
-- Stanza processing

function Sim:_resume(co)
	local ok, err = coroutine.resume(co);
	if not ok then
		-- mod_c2s's runner logs such errors as a traceback; tests assert there are none.
		local traceback = debug.traceback(co, tostring(err));
		self.errors[#self.errors + 1] = traceback;
		self.logs[#self.logs + 1] = { source = "c2s", level = "error", message = "Traceback[c2s]: " .. traceback };
	elseif coroutine.status(co) ~= "dead" then
		self.waiting[#self.waiting + 1] = co;
	end
end

--- Starts processing a stanza from `origin` (a session) and returns without
--- waiting: with yielding storage it may be left waiting until sim:run().
function Sim:submit(origin, stanza)
	local core_process_stanza = self.prosody.core_process_stanza;
	self:_resume(coroutine.create(function () core_process_stanza(origin, stanza); end));
end

--- Resumes waiting stanza processing, one step each in turn, until none waits.
function Sim:run()
	local guard = 0;
	while #self.waiting > 0 do
		guard = guard + 1;
		if guard > 100000 then error("simulation does not settle"); end
		local co = table.remove(self.waiting, 1);
		self:_resume(co);
	end
end

--- Stanzas the session received since the last take.
function Sim:take(session)
	local received = session.received;
	local out = {};
	for i = 1, #received do out[i] = received[i]; received[i] = nil; end
	return out;
end

--- Processes a stanza from `origin` to the end; returns what `origin` received.
function Sim:send(origin, stanza)
	self:submit(origin, stanza);
	self:run();
	return self:take(origin);
end

--- A stanza from another server arriving over s2s.
-- opts.type: "s2sin" (default) or "s2sout" (13's bidirectional streams
-- carry stanzas from the remote server over an outgoing connection too);
-- opts.connection: a name, to send over the same connection again (by
-- default every stanza comes on a new one), authenticated for each domain
-- it carries.
function Sim:receive_remote(stanza, opts)
	opts = opts or {};
	local from_host = self.jid.host(stanza.attr.from);
	self.s2s_connections = self.s2s_connections or {};
	local origin = opts.connection and self.s2s_connections[opts.connection];
	if not origin then
		local session_type = opts.type or "s2sin";
		origin = {
			type = session_type, id = session_type .. (opts.connection or tostring(#self.remote)), from_host = from_host, to_host = self.host,
			hosts = { [from_host] = { authed = true } },
			send = function (s) self.remote[#self.remote + 1] = s; end,
			log = self.require("util.logger").init(session_type),
		};
		if opts.connection then self.s2s_connections[opts.connection] = origin; end
	end
	-- A connection that carries several domains has authenticated each (dialback or a certificate naming them all).
	origin.hosts[from_host] = { authed = true };
	origin.close = origin.close or function (s, reason) s.closed = reason or true; end
	self:submit(origin, stanza);
	self:run();
end

--- Stanzas routed to other servers since the last call.
function Sim:take_remote()
	local out = self.remote;
	self.remote = {};
	return out;
end

--- The <stream:features/> a session is offered.
function Sim:features(session)
	local features = self.st.stanza("stream:features");
	self.prosody.hosts[self.host].events.fire_event("stream-features", { origin = session, features = features });
	return features;
end

------------------------------------------------------------------------
-- Client shortcuts

local next_id = 0;
local function id()
	next_id = next_id + 1;
	return "sim" .. next_id;
end

function Sim:preauth_iq(token, iq_type, to)
	return self.st.iq({ type = iq_type or "set", id = id(), to = to }):tag("preauth", { xmlns = "urn:xmpp:pars:0", token = token }):up();
end

function Sim:register_iq(username, password)
	return self.st.iq({ type = "set", id = id() })
		:tag("query", { xmlns = "jabber:iq:register" })
			:text_tag("username", username)
			:text_tag("password", password)
		:up();
end

--- Presents a token; returns the reply.
function Sim:preauth(session, token)
	return self:send(session, self:preauth_iq(token))[1];
end

--- Registers in-band; returns the reply.
function Sim:register(session, username, password)
	return self:send(session, self:register_iq(username, password or "secret"))[1];
end

--- Creates an account directly (as prosodyctl adduser would).
function Sim:create_user(username, password)
	return self.usermanager.create_user(username, password or "secret", self.host);
end

function Sim:user_exists(username)
	return self.usermanager.user_exists(username, self.host) and true or false;
end

--- A user's roster item for `jid`, read afresh from storage.
function Sim:roster_item(username, jid)
	local roster = self.storage:peek(self.host, "roster", username);
	return roster and roster[jid];
end

--- Whether the user has a pending inbound request from `jid`.
function Sim:pending_in(username, jid)
	local roster = self.storage:peek(self.host, "roster", username);
	local meta = roster and roster[false];
	return meta ~= nil and meta.pending ~= nil and meta.pending[jid] ~= nil;
end

--- Log entries, optionally at or above a level.
local levels = { debug = 1, info = 2, warn = 3, error = 4 };
function Sim:log_entries(min_level)
	local min = levels[min_level or "debug"];
	local out = {};
	for _, entry in ipairs(self.logs) do
		if levels[entry.level] and levels[entry.level] >= min then out[#out + 1] = entry; end
	end
	return out;
end

end
