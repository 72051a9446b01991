/**
 * util.stanza: XML stanzas as Prosody builds and parses them
 * (/usr/lib/prosody/util/stanza.lua, the same API in 0.12 and 13).
 *
 * Stanza objects are tables with a metatable: their methods are called with
 * `:` in Lua (`stanza:get_child(...)`), which TypeScriptToLua emits for the
 * methods declared here. The library functions are plain functions, called
 * with `.` (`st.reply(stanza)`).
 */

/** Attributes of an element; `xmlns` is an attribute like any other. */
export interface StanzaAttributes {
	[name: string]: string | undefined;
}

/** An element built by util.stanza, or parsed from the wire. */
export interface Stanza {
	readonly name: string;
	readonly attr: StanzaAttributes;
	/** Child elements only (text nodes are in the array part of the table). */
	readonly tags: Stanza[];
	readonly namespaces?: { [prefix: string]: string | undefined };

	/** Adds a child element and moves the cursor into it. */
	tag(name: string, attr?: StanzaAttributes, namespaces?: { [prefix: string]: string }): this;
	/** Adds text to the element under the cursor (nil and "" are ignored). */
	text(text?: string): this;
	/** Adds `<name>text</name>` under the cursor without moving it. */
	text_tag(name: string, text: string, attr?: StanzaAttributes): this;
	/** Moves the cursor up to the parent element. */
	up(): this;
	/** Moves the cursor back to the top element. */
	reset(): this;
	/** Adds a child element under the cursor. */
	add_child(child: Stanza): this;
	/** Adds a child element or text directly to this element. */
	add_direct_child(child: Stanza | string): void;

	/**
	 * The first child element with this name and namespace. Without `xmlns`,
	 * the child must share its parent's namespace.
	 */
	get_child(name?: string, xmlns?: string): Stanza | undefined;
	/** The text of the first matching child element. */
	get_child_text(name?: string, xmlns?: string): string | undefined;
	/** The text of this element, if it has no child elements. */
	get_text(): string | undefined;
	child_with_name(name: string): Stanza | undefined;
	child_with_ns(xmlns: string): Stanza | undefined;
	/** Iterates child elements matching name and namespace. */
	childtags(name?: string, xmlns?: string): LuaIterable<Stanza>;
	/** Replaces (or, when the callback returns nil, removes) each child element. */
	maptags(callback: (this: void, tag: Stanza) => Stanza | undefined): this;
	remove_children(name?: string, xmlns?: string): this;
	/** Path query, e.g. `"{urn:xmpp:pars:0}preauth@token"`. */
	find(path: string): Stanza | string | undefined;
	/** The serialised opening tag, for logging. */
	top_tag(): string;
	/** type, condition, text and extra element of an error stanza. */
	get_error(): LuaMultiReturn<[StanzaErrorType?, string?, string?, Stanza?]>;
}

/** RFC 6120 §8.3.2 error types. */
export type StanzaErrorType = "auth" | "cancel" | "continue" | "modify" | "wait";

/** RFC 6120 §8.3.3 defined conditions. */
export type StanzaErrorCondition =
	| "bad-request"
	| "conflict"
	| "feature-not-implemented"
	| "forbidden"
	| "gone"
	| "internal-server-error"
	| "item-not-found"
	| "jid-malformed"
	| "not-acceptable"
	| "not-allowed"
	| "not-authorized"
	| "policy-violation"
	| "recipient-unavailable"
	| "redirect"
	| "registration-required"
	| "remote-server-not-found"
	| "remote-server-timeout"
	| "resource-constraint"
	| "service-unavailable"
	| "subscription-required"
	| "undefined-condition"
	| "unexpected-request";

/** A stanza turned into plain tables by `preserialize` (for storage). */
export interface PreserializedStanza {
	name: string;
	attr: StanzaAttributes;
}

/** The util.stanza library table. */
export interface StanzaLib {
	stanza(this: void, name: string, attr?: StanzaAttributes): Stanza;
	iq(this: void, attr: StanzaAttributes & { type: string; id: string }): Stanza;
	presence(this: void, attr?: StanzaAttributes): Stanza;
	message(this: void, attr?: StanzaAttributes, body?: string): Stanza;
	/** A reply skeleton: to/from swapped, same id, type "result" for IQs. */
	reply(this: void, orig: Stanza): Stanza;
	/** An error reply; raises a Lua error when `orig` is itself an error. */
	error_reply(
		this: void,
		orig: Stanza,
		type: StanzaErrorType,
		condition: StanzaErrorCondition,
		text?: string,
		by?: string,
	): Stanza;
	is_stanza(this: void, value: unknown): value is Stanza;
	clone(this: void, stanza: Stanza, only_top?: boolean): Stanza;
	preserialize(this: void, stanza: Stanza): PreserializedStanza;
	deserialize(this: void, data: PreserializedStanza): Stanza;
	xml_escape(this: void, text: string): string;
}
