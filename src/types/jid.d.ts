/**
 * util.jid: splitting and normalising JIDs
 * (/usr/lib/prosody/util/jid.lua). All plain functions, called with `.`.
 */
export interface JidLib {
	/** node, host, resource; all nil when the JID is invalid. */
	split(this: void, jid: string | undefined): LuaMultiReturn<[string | undefined, string | undefined, string | undefined]>;
	bare(this: void, jid: string | undefined): string | undefined;
	node(this: void, jid: string | undefined): string | undefined;
	host(this: void, jid: string | undefined): string | undefined;
	resource(this: void, jid: string | undefined): string | undefined;
	/** The stringprep-normalised JID, or nil when it is invalid. */
	prep(this: void, jid: string, strict?: boolean): string | undefined;
	join(this: void, node: string | undefined, host: string, resource?: string): string | undefined;
	compare(this: void, jid: string, acl: string): boolean;
}
