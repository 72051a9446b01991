/**
 * What the server knows of a local account that an invite names: whether
 * it exists, whether it is enabled (13), and when it was created, so that
 * an invite made by or for an earlier account of the same name is told
 * apart from one made by or for this account.
 *
 * Creation times come from the auth provider on 13 (`get_account_info`'s
 * `created`, which mod_auth_internal_hashed and _plain record). 0.12's
 * providers record none, so there this module keeps its own: a small
 * per-user record written when an account is registered in the server
 * (user-registered, whichever module registered it). Prosody deletes a
 * user's stores with the account (storagemanager.purge), this record
 * included, in the server and under prosodyctl alike.
 */
import { usermanager } from "./prosody_require";
import type { KeyvalStore } from "./types/storage";

export type AccountState = "active" | "gone" | "disabled" | "unknown";

export interface AccountStanding {
	readonly state: AccountState;
	/** os.time() of the account's creation, when known. */
	readonly created?: number;
}

interface CreationRecord {
	readonly created: number;
}
/**
 * Whether the host's auth provider tells account info (13's internal
 * providers: creation time, enabled); else existence is all it tells.
 */
function provider_has_account_info(host: string): boolean {
	return usermanager.get_account_info !== undefined && usermanager.get_provider(host)?.get_account_info !== undefined;
}

// Opened on first use: prosodyctl loads the module without storage.
let creation_store: KeyvalStore<CreationRecord> | undefined;

function creations(): KeyvalStore<CreationRecord> {
	creation_store ??= module.open_store<CreationRecord>("invites_register_account");
	return creation_store;
}

function write_creation(username: string, host: string): void {
	if (provider_has_account_info(host)) {
		return; // the provider records it
	}
	const [ok, err] = creations().set(username, { created: os.time() });
	if (!ok) {
		module.log("warn", "Could not record when account %s was created: %s", username, err);
	}
}

/**
 * user-registered, on a server whose auth provider records no creation
 * time (0.12): remember when this account was created. A failure is logged
 * and costs only this record (invites are then judged by existence).
 */
export function record_account_created(username: string, host: string): void {
	const [ok, err] = pcall(write_creation, username, host);
	if (!ok) {
		module.log("warn", "Could not record when account %s was created: %s", username, err);
	}
}

function recorded_creation(username: string): number | undefined {
	const [record] = creations().get(username);
	return record !== undefined && type(record.created) === "number" ? record.created : undefined;
}

/** 13's internal providers: existence, enabled and creation in one read. */
function standing_from_account_info(username: string, host: string): AccountStanding {
	const [info] = usermanager.get_account_info!(username, host);
	if (info === undefined) {
		// The internal providers answer a missing account and a failed read alike.
		return { state: "gone" };
	}
	const created = type(info.created) === "number" ? info.created : undefined;
	let enabled: unknown = info.enabled;
	if (enabled === undefined && usermanager.user_is_enabled !== undefined) {
		[enabled] = usermanager.user_is_enabled(username, host); // mod_auth_internal_plain tells it only here
	}
	return { state: enabled === false ? "disabled" : "active", created };
}

function read_standing(username: string, host: string): AccountStanding {
	if (provider_has_account_info(host)) {
		return standing_from_account_info(username, host);
	}
	if (!usermanager.user_exists(username, host)) {
		return { state: "gone" };
	}
	let enabled: unknown = true;
	if (usermanager.user_is_enabled !== undefined) {
		[enabled] = usermanager.user_is_enabled(username, host); // a provider of its own may tell (nil: it cannot)
	}
	return { state: enabled === false ? "disabled" : "active", created: recorded_creation(username) };
}

/**
 * The standing of local account `username`. "unknown" when asking raised
 * an error (logged): the caller answers a temporary failure.
 */
export function account_standing(username: string, host: string): AccountStanding {
	const [ok, standing] = pcall(read_standing, username, host);
	if (!ok) {
		module.log("error", "Could not check account %s: %s", username, standing);
		return { state: "unknown" };
	}
	return standing;
}
