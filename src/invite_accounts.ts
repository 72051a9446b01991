/**
 * An invite never outlives the accounts it names. An invite names local
 * accounts in two ways:
 *  - its creator: the user a contact invite belongs to (its JID), and the
 *    account in `additional_data.source` when that is a JID of this host
 *    (mod_invites_adhoc stores the creator's JID there); invites made by
 *    the admin shell, prosodyctl or the HTTP API name no creator;
 *  - its target: the account a password reset invite resets.
 * An invite is void when an account it names is gone, is disabled (13),
 * or was created after the invite (the invite was made by or for an
 * earlier account of the same name), and, with
 * `invite_require_inviter_permission` (13), for registration when its
 * creator may no longer invite users (mod_invites_adhoc's permission).
 */
import { account_standing, type AccountState } from "./accounts";
import { jid } from "./prosody_require";
import { normalise_username, reset_target } from "./invite_records";
import type { InviteAdditionalData } from "./types/mod_invites";

/** mod_invites_adhoc's permission to make invites that register accounts ("invites_adhoc" is its module name). */
const INVITE_PERMISSION = "invites_adhoc:invite-users";

const require_permission = module.get_option_boolean("invite_require_inviter_permission", false) === true;
if (require_permission && module.may === undefined) {
	module.log("warn", "invite_require_inviter_permission needs Prosody 13's roles; it has no effect on this version");
}

let warned_no_adhoc = false;

/** The permission exists only where mod_invites_adhoc is loaded: without it, no user holds it. */
function warn_if_no_adhoc(host: string): void {
	if (!warned_no_adhoc && prosody.hosts.get(host)?.modules?.get("invites_adhoc") === undefined) {
		warned_no_adhoc = true;
		module.log("warn", "invite_require_inviter_permission is set but mod_invites_adhoc is not loaded on %s: no user holds its permission, so every invite made by a user is refused", host);
	}
}

/** What an invite says about who made it and for whom: a stored record, or a validated invite. */
export interface InviteNames {
	readonly type: "register" | "roster";
	/** Records: the inviter of a contact invite, or the host / bound JID of an account invite. */
	readonly jid?: string;
	/** Validated contact invites: the user it belongs to (a subscription) or the inviter (a registration). */
	readonly username?: string;
	readonly inviter?: string;
	readonly additional_data?: InviteAdditionalData;
}

export interface NamedAccounts {
	/** The local accounts that made the invite (usually one). */
	readonly creators: string[];
	/** The account a reset invite resets. */
	readonly target?: string;
}

/** The username of `address` when it is an account of `host`. */
function local_account(address: unknown, host: string): string | undefined {
	if (typeof address !== "string") {
		return undefined;
	}
	const [node, address_host] = jid.split(address);
	if (node === undefined || address_host === undefined || jid.prep(address_host) !== host) {
		return undefined;
	}
	return normalise_username(node, host);
}

/** The local accounts `invite` names. */
export function named_accounts(invite: InviteNames, host: string): NamedAccounts {
	const creators: string[] = [];
	if (invite.type === "roster") {
		// Records come from storage, possibly written by other modules: what is read is checked.
		const owner = typeof invite.username === "string" ? invite.username : typeof invite.inviter === "string" ? invite.inviter : undefined;
		const creator = owner !== undefined ? normalise_username(owner, host) : local_account(invite.jid, host);
		if (creator !== undefined) {
			creators[creators.length] = creator;
		}
	}
	const data = invite.additional_data;
	const source = type(data) === "table" ? local_account(data!.source, host) : undefined;
	if (source !== undefined && source !== creators[0]) {
		creators[creators.length] = source;
	}
	const reset_username = reset_target(invite);
	return { creators, target: reset_username !== undefined ? normalise_username(reset_username, host) : undefined };
}

/** Whether the invite names any local account (only those need a check). */
export function names_accounts(named: NamedAccounts): boolean {
	return named.creators.length > 0 || named.target !== undefined;
}

export type VoidReason = AccountState | "replaced" | "no-permission";

/** Why an invite cannot be used: which account, and what is wrong with it; nil when it stands. */
export interface InviteVoid {
	readonly account: string;
	readonly role: "creator" | "target";
	/** "gone", "disabled", "replaced" (created after the invite), "no-permission", or "unknown" (the check failed). */
	readonly reason: Exclude<VoidReason, "active">;
}

function check_account(account: string, role: "creator" | "target", host: string, created_at: number | undefined): InviteVoid | undefined {
	const standing = account_standing(account, host);
	if (standing.state !== "active") {
		return { account, role, reason: standing.state };
	}
	if (type(created_at) === "number") {
		// Created after the invite; or, where no creation time is known, an
		// account of this name was deleted in the server since the invite
		// was made (the one that exists now is younger).
		const replaced = standing.created !== undefined ? standing.created > created_at! : standing.deleted_before !== undefined && standing.deleted_before >= created_at!;
		if (replaced) {
			return { account, role, reason: "replaced" };
		}
	}
	return undefined;
}

/**
 * Whether the accounts `named` still stand for an invite created at
 * `created_at` (nil when unknown: then only existence and state count).
 * `registering`: the invite is to register an account (the permission
 * option applies), not for a XEP-0379 subscription.
 */
export function check_named_accounts(named: NamedAccounts, created_at: number | undefined, host: string, registering: boolean): InviteVoid | undefined {
	for (const creator of named.creators) {
		const problem = check_account(creator, "creator", host, created_at);
		if (problem !== undefined) {
			return problem;
		}
		if (registering && require_permission && module.may !== undefined && module.may(INVITE_PERMISSION, `${creator}@${host}`, true) !== true) {
			warn_if_no_adhoc(host);
			return { account: creator, role: "creator", reason: "no-permission" };
		}
	}
	if (named.target !== undefined) {
		return check_account(named.target, "target", host, created_at);
	}
	return undefined;
}

/**
 * Whether a stored invite is void because an account it names no longer
 * stands (nil when it stands, or names no account: then nothing is read).
 */
export function record_void(record: InviteNames & { readonly created_at?: number }, host: string, registering: boolean): InviteVoid | undefined {
	const named = named_accounts(record, host);
	return names_accounts(named) ? check_named_accounts(named, record.created_at, host, registering) : undefined;
}

/** For the log (info level, no token): why an invite was refused. */
export function describe_void(problem: InviteVoid): string {
	const whose = problem.role === "creator" ? `made by ${problem.account}` : `for account ${problem.account}`;
	const why: Record<InviteVoid["reason"], string> = {
		gone: "that account no longer exists",
		disabled: "that account is disabled",
		replaced: "that account was deleted and its name registered again since",
		"no-permission": "that account may no longer invite users",
		unknown: "that account could not be checked",
	};
	return `an invite ${whose}: ${why[problem.reason]}`;
}
