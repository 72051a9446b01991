/**
 * core.usermanager: accounts and their roles
 * (/usr/lib/prosody/core/usermanager.lua).
 *
 * The role API changed between the two supported versions, so its members
 * are optional: test for the one you need.
 * - 0.12: `get_roles`/`set_roles` take a JID and a role *set*
 *   (`{ ["prosody:admin"] = true }`), stored by mod_authz_internal in the
 *   `roles` keyval store.
 * - 13: each user has one primary role (`set_user_role`) and any number of
 *   secondary roles (`add_user_secondary_role`), by role name.
 */

/** 0.12: the set of role names a user has. */
export type RoleSet = LuaTable<string, boolean>;

/** 13: a role object from the authz provider. */
export interface Role {
	readonly name: string;
	/** Higher means more privileged (prosody:operator 75 … prosody:guest 15). */
	readonly priority?: number;
}

/**
 * 13: what the auth provider knows of an account (mod_auth_internal_hashed:
 * `created`, `password_updated`, `enabled`; mod_auth_internal_plain has no
 * `enabled`; other providers may have none of these).
 */
export interface AccountInfo {
	/** os.time() when the account was created (accounts made before 13 have none). */
	readonly created?: number;
	readonly password_updated?: number;
	readonly enabled?: boolean;
}

/** The host's auth provider (only what this module asks of it). */
export interface AuthProvider {
	readonly name?: string;
	/** 13's internal providers; absent from 0.12's and from many others. */
	readonly get_account_info?: unknown;
	/** Whether the account exists in the provider's storage (usermanager.user_exists also says yes while the user has a session). */
	user_exists?(this: void, username: string): boolean | undefined;
}

type Ok<T = true> = LuaMultiReturn<[T] | [undefined | false, string?]>;

export interface UserManager {
	user_exists(this: void, username: string, host: string): boolean | undefined;
	create_user(this: void, username: string, password: string | undefined, host: string): Ok;
	delete_user(this: void, username: string, host: string): Ok;
	test_password(this: void, username: string, host: string, password: string): boolean | undefined;
	set_password(this: void, username: string, password: string, host: string, resource?: string): Ok;
	get_provider(this: void, host: string): AuthProvider | undefined;

	/**
	 * 13 only: nil and "method not supported" when the provider cannot tell;
	 * nil and another error for a missing account (and when storage failed:
	 * the internal providers do not tell these apart).
	 */
	get_account_info?(this: void, username: string, host: string): LuaMultiReturn<[AccountInfo] | [undefined, string]>;
	/** 13 only: true, false when disabled, nil and an error when it cannot tell (e.g. no account). */
	user_is_enabled?(this: void, username: string, host: string): LuaMultiReturn<[boolean | AccountInfo] | [undefined, string?]>;
	/** 13 only: fires user-disabled. */
	disable_user?(this: void, username: string, host: string, meta?: unknown): Ok;
	/** 13 only: fires user-enabled. */
	enable_user?(this: void, username: string, host: string): Ok;

	/** 0.12 only. */
	get_roles?(this: void, jid: string, host?: string): RoleSet | undefined | false;
	/** 0.12 only: replaces the user's role set (fires user-roles-changed). */
	set_roles?(this: void, jid: string, host: string, roles: RoleSet): Ok<boolean>;

	/** 13 only. */
	get_user_role?(this: void, username: string, host: string): Role | undefined | false;
	/** 13 only: sets the primary role (fires user-role-changed). */
	set_user_role?(this: void, username: string, host: string, role_name: string): Ok<Role>;
	/** 13 only. */
	add_user_secondary_role?(this: void, username: string, host: string, role_name: string): Ok<Role>;
	/** 13 only. */
	remove_user_secondary_role?(this: void, username: string, host: string, role_name: string): Ok<boolean>;
	/** 13 only: role name → role. */
	get_user_secondary_roles?(this: void, username: string, host: string): LuaTable<string, Role> | undefined | false;
	/** 13 only. */
	get_role_by_name?(this: void, role_name: string, host: string): Role | undefined | false;
	/** 13 only. */
	create_user_with_role?(this: void, username: string, password: string | undefined, host: string, role: string): Ok;
}
