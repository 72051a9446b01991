-- Conversions for test drivers outside Lua (jest under fengari): stanzas
-- in as plain {name, attr, children} trees, values out as plain data with
-- stanzas as { __xml = "<...>" }.
local bridge = {};

local DEFAULT_NS = "jabber:client";

-- Builds a stanza from a parsed element the way Prosody's stream parser
-- (util.xmppstream) leaves it: no xmlns on elements in the stream's
-- default namespace, an explicit xmlns on every element inside another
-- namespace (so that get_child(name) finds children by their parent's ns).
local function build(st, plain, parent_ns, inside_other_ns)
	local ns = plain.attr and plain.attr.xmlns or parent_ns;
	local attr = {};
	for k, v in pairs(plain.attr or {}) do attr[k] = v; end
	local other = inside_other_ns or ns ~= DEFAULT_NS;
	attr.xmlns = other and ns or nil;
	local stanza = st.stanza(plain.name, attr);
	for _, child in ipairs(plain.children or {}) do
		if type(child) == "string" then
			stanza:add_direct_child(child);
		else
			stanza:add_direct_child(build(st, child, ns, other));
		end
	end
	return stanza;
end

function bridge.stanza(sim, plain)
	return build(sim.st, plain, DEFAULT_NS, false);
end

function bridge.export(sim, value, seen)
	if type(value) ~= "table" then
		if type(value) == "function" or type(value) == "userdata" or type(value) == "thread" then return nil; end
		return value;
	end
	if sim.st.is_stanza(value) then return { __xml = tostring(value) }; end
	seen = seen or {};
	if seen[value] then return "<cycle>"; end
	seen[value] = true;
	local out = {};
	for k, v in pairs(value) do
		if type(k) == "string" or type(k) == "number" then
			out[k] = bridge.export(sim, v, seen);
		elseif k == false then
			out["[false]"] = bridge.export(sim, v, seen);
		end
	end
	seen[value] = nil;
	return out;
end

return bridge;
