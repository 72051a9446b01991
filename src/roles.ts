/**
 * Roles an invite grants, applied with the role API of the running Prosody.
 *
 * Invites made by 13 carry an ordered list (primary role, then secondary
 * roles); invites made by 0.12 carry a role set. Either shape works on
 * either version.
 */
import { usermanager } from "./prosody_require";
import type { InviteRoles } from "./types/mod_invites";
import type { RoleSet } from "./types/usermanager";

function is_role_list(roles: InviteRoles): roles is string[] {
	return (roles as string[])[0] !== undefined;
}

/**
 * The roles as an ordered list. A role set has no order: on 13 the most
 * privileged role (highest priority) becomes the primary one, ties broken
 * by name so that the result does not depend on table order.
 */
function role_list(roles: InviteRoles, host: string): string[] {
	if (is_role_list(roles)) {
		return roles;
	}
	const names: string[] = [];
	for (const [name, granted] of roles) {
		if (granted && typeof name === "string") {
			names[names.length] = name;
		}
	}
	const get_role_by_name = usermanager.get_role_by_name;
	const priority = new LuaTable<string, number>();
	for (const name of names) {
		const role = get_role_by_name !== undefined ? get_role_by_name(name, host) : undefined;
		priority.set(name, (role ? role.priority : undefined) ?? 0);
	}
	table.sort(names, (a, b) => {
		const pa = priority.get(a) ?? 0;
		const pb = priority.get(b) ?? 0;
		return pa !== pb ? pa > pb : a < b;
	});
	return names;
}

/**
 * 13: primary role, then secondary roles, through usermanager. Each role on
 * its own: mod_authz_internal raises an error for a role it does not know,
 * which must not cost the user the other roles.
 */
function apply_role_list(username: string, host: string, roles: string[]): void {
	const [called, primary, err] = protected_call(usermanager.set_user_role!, username, host, roles[0]);
	if (!called || !primary) {
		module.log("error", "Could not set role %s for newly registered user %s: %s", roles[0], username, called ? err : primary);
	}
	for (let i = 1; i < roles.length; i++) {
		const [added, secondary, secondary_err] = protected_call(usermanager.add_user_secondary_role!, username, host, roles[i]);
		if (!added || !secondary) {
			module.log("warn", "Could not add secondary role %s for newly registered user %s: %s", roles[i], username, added ? secondary_err : secondary);
		}
	}
}

/**
 * 0.12: the role set, through usermanager (mod_authz_internal keeps it in
 * the `roles` store). mod_authz_internal reports success even when storage
 * fails, so the roles are read back.
 */
function apply_role_set(username: string, host: string, roles: string[]): void {
	const set: RoleSet = new LuaTable();
	for (const name of roles) {
		set.set(name, true);
	}
	const user_jid = `${username}@${host}`;
	const { set_roles, get_roles } = usermanager;
	if (set_roles === undefined || get_roles === undefined) {
		const [stored, err] = module.open_store<RoleSet>("roles").set(username, set);
		if (!stored) {
			module.log("error", "Could not store the roles of newly registered user %s: %s", username, err);
		}
		return;
	}
	const [ok, err] = set_roles(user_jid, host, set);
	const stored = get_roles(user_jid, host);
	for (const name of roles) {
		if (!ok || !stored || !stored.get(name)) {
			module.log("error", "Could not set the roles of newly registered user %s: %s", username, err ?? "not stored");
			return;
		}
	}
}

export function apply_invite_roles(username: string, host: string, roles: InviteRoles): void {
	const list = role_list(roles, host);
	if (list.length === 0) {
		return;
	}
	module.log("debug", "Giving %s the roles of their invite", username);
	if (usermanager.set_user_role !== undefined && usermanager.add_user_secondary_role !== undefined) {
		apply_role_list(username, host, list);
	} else {
		apply_role_set(username, host, list);
	}
}
