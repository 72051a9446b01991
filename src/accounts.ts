/**
 * What the server knows of a local account that an invite names: whether
 * it exists, whether it is enabled (13), and when it was created, so that
 * an invite made by or for an earlier account of the same name is told
 * apart from one made by or for this account.
 *
 * Creation times come from the auth provider on 13 (`get_account_info`'s
 * `created`, which mod_auth_internal_hashed and _plain record). 0.12's
 * providers record none. There, mod_register_ibr stores `registered` (the
 * creation time) in the account's `account_details` for in-band
 * registrations; for accounts registered otherwise in the server (web
 * registration, any module firing user-registered) this module keeps a
 * record of its own (store `invites_register_account`). Prosody deletes a
 * user's stores with the account (storagemanager.purge), these included,
 * in the server and under prosodyctl alike.
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

function write_creation(username: string, host: string, source: string | undefined): void {
	if (provider_has_account_info(host) || source === "mod_register") {
		return; // the provider records it, or mod_register_ibr did (account_details)
	}
	const [ok, err] = creations().set(username, { created: os.time() });
	if (!ok) {
		module.log("warn", "Could not record when account %s was created: %s", username, err);
	}
}

/**
 * user-registered, on a server whose auth provider records no creation
 * time (0.12): remember when this account was created, unless
 * mod_register_ibr (`source` "mod_register") did. A failure is logged and
 * costs only this record (invites are then judged by existence).
 */
export function record_account_created(username: string, host: string, source: string | undefined): void {
	const [ok, err] = pcall(write_creation, username, host, source);
	if (!ok) {
		module.log("warn", "Could not record when account %s was created: %s", username, err);
	}
}

interface AccountDetails {
	/** mod_register_ibr: os.time() of the in-band registration. */
	readonly registered?: number;
}

let details_store: KeyvalStore<AccountDetails> | undefined;

function recorded_creation(username: string): number | undefined {
	details_store ??= module.open_store<AccountDetails>("account_details");
	const [details] = details_store.get(username);
	if (details !== undefined && type(details) === "table" && type(details.registered) === "number") {
		return details.registered;
	}
	const [record] = creations().get(username);
	return record !== undefined && type(record) === "table" && type(record.created) === "number" ? record.created : undefined;
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
	// The provider itself: usermanager.user_exists answers true while the
	// user has a session, also after another process deleted the account.
	const provider = usermanager.get_provider(host);
	const exists = provider?.user_exists !== undefined ? provider.user_exists(username) : usermanager.user_exists(username, host);
	if (!exists) {
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
