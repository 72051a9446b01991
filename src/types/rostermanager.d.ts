/**
 * core.rostermanager: roster state of local users
 * (/usr/lib/prosody/core/rostermanager.lua; unchanged between 0.12 and 13).
 *
 * Every function takes the local user's `username` and `host` and the
 * contact's bare `jid`. Functions that change a roster save it and return
 * true on success, nil when nothing changed or saving failed; none of them
 * sends anything: call `roster_push` to tell the user's clients.
 */
import type { Stanza } from "./stanza";

export type Subscription = "none" | "to" | "from" | "both";

export interface RosterItem {
	subscription: Subscription;
	/** "subscribe" while our subscription request is pending. */
	ask?: "subscribe";
	name?: string;
	groups: LuaTable<string, true>;
	/** "true" when the user pre-approved the contact (RFC 6121 §3.4). */
	approved?: "true";
}

/** A loaded roster: items by bare JID. The metadata at key `false` is not typed here. */
export type Roster = LuaTable<string, RosterItem>;

type Saved = true | undefined;

export interface RosterManager {
	load_roster(this: void, username: string, host: string): LuaMultiReturn<[Roster, string?]>;
	/** Sends a roster push for `jid` to the user's interested resources. */
	roster_push(this: void, username: string, host: string, jid: string): void;

	/** Is `jid` subscribed to the user's presence (subscription from/both)? */
	is_contact_subscribed(this: void, username: string, host: string, jid: string): LuaMultiReturn<[boolean | undefined, string?]>;
	/** Is the user subscribed to `jid`'s presence (subscription to/both)? */
	is_user_subscribed(this: void, username: string, host: string, jid: string): LuaMultiReturn<[boolean | undefined, string?]>;
	is_contact_pending_in(this: void, username: string, host: string, jid: string): boolean;
	is_contact_pending_out(this: void, username: string, host: string, jid: string): "subscribe" | undefined;
	is_contact_preapproved(this: void, username: string, host: string, jid: string): boolean | undefined;

	/** Records an inbound subscription request (stored with the stanza). Fails when already subscribed. */
	set_contact_pending_in(this: void, username: string, host: string, jid: string, stanza?: Stanza): Saved;
	/** Records an outbound subscription request (ask="subscribe"). */
	set_contact_pending_out(this: void, username: string, host: string, jid: string): Saved;
	/** The user approves `jid`'s pending request (or pre-approves it). */
	subscribed(this: void, username: string, host: string, jid: string): Saved;
	/** The user refuses or cancels `jid`'s subscription. */
	unsubscribed(this: void, username: string, host: string, jid: string): LuaMultiReturn<[Saved | false, boolean?, boolean?]>;
	/** `jid` approved the user's request: ask is cleared, subscription gains "to". */
	process_inbound_subscription_approval(this: void, username: string, host: string, jid: string): Saved;
	unsubscribe(this: void, username: string, host: string, jid: string): Saved | false;
}
