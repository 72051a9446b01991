/**
 * Groups an invite adds the new account to: membership in the `groups` map
 * store (group id → username → true), which mod_groups_internal reads.
 */
export function add_to_invite_groups(username: string, groups: string[]): void {
	const memberships = module.open_store<true>("groups", "map");
	for (const group of groups) {
		if (typeof group !== "string") {
			module.log("warn", "Ignoring a group id of type %s in the invite of %s", type(group), username);
		} else {
			const [ok, err] = memberships.set(group, username, true);
			if (ok) {
				module.log("debug", "Added %s to group %s", username, group);
			} else {
				module.log("error", "Could not add %s to group %s: %s", username, group, err);
			}
		}
	}
}
