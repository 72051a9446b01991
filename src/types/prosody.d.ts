/**
 * The `prosody` global: process-wide state
 * (/usr/lib/prosody/util/startup.lua, core/stanza_router.lua).
 */
import type { BareSession, HostSession, Session } from "./session";
import type { Stanza } from "./stanza";
import type { EventsObject } from "./util";

export interface ProsodyGlobal {
	/** "prosody" in the server, "prosodyctl" under prosodyctl. */
	readonly process_type?: string;
	readonly version?: string;
	/** The folders the server runs with (`data`: where file storage and a relative SQLite database live). */
	readonly paths: { readonly data?: string };
	readonly hosts: LuaTable<string, HostSession>;
	/** Global events (what `module:hook_global` hooks). */
	readonly events: EventsObject;
	/** Local users with at least one session, by bare JID. */
	readonly bare_sessions: LuaTable<string, BareSession>;
	readonly full_sessions: LuaTable<string, Session>;
	/** Routes a stanza; `preevents` fires pre-* events as for client stanzas. */
	core_post_stanza(this: void, origin: Session | HostSession, stanza: Stanza, preevents?: boolean): void;
}
