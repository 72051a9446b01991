/**
 * The API that mod_invites exports to other modules: what
 * `module:depends("invites")` returns (/usr/lib/prosody/modules/mod_invites.lua).
 *
 * Tokens are secrets: never log them above debug level.
 */
import type { RoleSet } from "./usermanager";

/** Why `get` refused a token. */
export type InviteError = "no-token" | "token-invalid" | "token-expired";

/**
 * Roles an invite grants. 13 writes an ordered list (primary role first,
 * then secondary roles); 0.12 wrote a role set (`{ ["prosody:admin"] = true }`).
 */
export type InviteRoles = string[] | RoleSet;

/** Free-form data stored with an invite; these keys have a meaning. */
export interface InviteAdditionalData {
	roles?: InviteRoles;
	/** Group ids (mod_groups_internal) the new account joins. */
	groups?: string[];
	/** Set by create_account_reset: the username whose password this invite resets. */
	allow_reset?: string;
	source?: string;
	note?: string;
}

/** An invite as mod_invites stores it (and as `create_*` return it). */
export interface InviteRecord {
	/** "register": an account invite; "roster": a contact invite of `jid`'s user. */
	type: "register" | "roster";
	/** host for open account invites, user@host when bound to a username, the inviter for roster invites. */
	jid: string;
	token: string;
	allow_registration?: boolean;
	additional_data?: InviteAdditionalData;
	uri: string;
	landing_page?: string;
	created_at: number;
	expires: number;
	reusable?: boolean;
}

/**
 * A validated invite, returned by `get`. Call `:use()` once it has really
 * been used: it deletes single-use invites from storage.
 */
export interface ValidInvite {
	readonly token: string;
	/** For roster invites: the local user who issued it. */
	readonly username?: string;
	/** Set for contact invites used to register (`ibr=y`): the inviting user. */
	readonly inviter?: string;
	readonly type: "register" | "roster";
	readonly uri: string;
	readonly additional_data?: InviteAdditionalData;
	readonly reusable?: boolean;
	/** Marks the invite used; returns true (mod_invites ignores storage errors here). */
	use(): boolean;
}

/**
 * The iterator `pending_account_invites` returns: Lua's three values
 * (iterator function, state, initial key), from
 * `it.filter(is_valid_invite, pairs(store:get(nil) or {}))`. The state is
 * the host's table of account invites by token; the initial key is nil
 * (TypeScriptToLua types it as the key type).
 */
export type PendingAccountInvites = LuaIterable<LuaMultiReturn<[string, InviteRecord]>, LuaTable<string, InviteRecord>>;

/**
 * mod_invites' global functions (plain functions: called with `.`). The
 * same nine in 0.12 and 13; spec/types/api_coverage.test.ts checks them
 * against the Lua source. Quoted comments are Prosody's.
 */
export interface ModInvites {
	/**
	 * "Get a validated invite (or nil, err). Must call :use() on the
	 * returned invite after it is actually successfully used. For "roster"
	 * invites, the username of the local user (who issued the invite) must
	 * be passed. If no username is passed, but the registration is a roster
	 * invite from a local user, the "inviter" field of the returned invite
	 * will be set to their username."
	 *
	 * In 0.12.3 this raises a Lua error for a contact invite made without
	 * registration rights (mod_invites reads `token_info.reusable` from nil).
	 */
	get(this: void, token: string | undefined, username?: string): LuaMultiReturn<[ValidInvite] | [undefined, InviteError]>;
	/** Validates and uses a token in one call (`get(token)` then `:use()`); nil when invalid. */
	use(this: void, token: string): boolean | undefined;
	/** The stored account invite (type, jid, additional_data…) or nil and why. */
	get_account_invite_info(this: void, token: string | undefined): LuaMultiReturn<[InviteRecord] | [undefined, InviteError]>;
	/** Deletes an account invite: the store's answer (true, or nil and an error), or nil, "no-token". */
	delete_account_invite(this: void, token: string): LuaMultiReturn<[boolean | undefined, string?]>;

	/** "Create invitation to register an account (optionally restricted to the specified username)". */
	create_account(this: void, username?: string, additional_data?: InviteAdditionalData, ttl?: number): LuaMultiReturn<[InviteRecord] | [undefined, string]>;
	/** "Create invitation to reset the password for an account" (valid one day unless `ttl`). */
	create_account_reset(this: void, username: string, ttl?: number): LuaMultiReturn<[InviteRecord] | [undefined, string]>;
	/** "Create invitation to become a contact of a local user". */
	create_contact(this: void, username: string, allow_registration?: boolean, additional_data?: InviteAdditionalData, ttl?: number): LuaMultiReturn<[InviteRecord] | [undefined, string]>;
	/**
	 * "Create invitation to register an account and join a user group. If
	 * explicit ttl is passed, invite is valid for multiple signups during
	 * that time period."
	 */
	create_group(this: void, group_ids: string[], additional_data?: InviteAdditionalData, ttl?: number): LuaMultiReturn<[InviteRecord] | [undefined, string]>;
	/**
	 * "Iterates pending (non-expired, unused) invites that allow
	 * registration": `for (const [token, invite] of invites.pending_account_invites())`
	 * compiles to `for token, invite in invites.pending_account_invites() do`.
	 */
	pending_account_invites(this: void): PendingAccountInvites;
}
