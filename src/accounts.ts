/**
 * What the server knows of a local account that an invite names: whether
 * it exists, whether it is enabled (13), and when it was created, so that
 * an invite made by or for an earlier account of the same name is told
 * apart from one made by or for this account.
 *
 * With Prosody's own auth providers (internal_hashed, internal_plain) the
 * account's record in the "accounts" store is read directly: one read
 * that tells a missing account from a failed read (the providers' API
 * answers both alike), with 13's `created` and `disabled`. Other
 * providers are asked through usermanager; what a provider lacks,
 * usermanager answers with a dummy ("method not implemented"), so those
 * answers are taken for "cannot tell", never for "no account".
 *
 * Where no creation time is recorded (0.12, accounts made before 13):
 *  - mod_register_ibr's `account_details` has `registered` for accounts
 *    registered in-band; for accounts registered otherwise in the server
 *    (web registration, any module firing user-registered) this module
 *    keeps a record of its own (store `invites_register_account`). Prosody
 *    purges both with the account, in the server and under prosodyctl;
 *  - for an account deleted in the server, this module keeps when
 *    (host store `invites_register_deleted`, username → os.time()): an
 *    account of that name that exists now was created since.
 */
import { usermanager } from "./prosody_require";
import type { AuthProvider } from "./types/usermanager";
import type { KeyvalStore, MapStore } from "./types/storage";

export type AccountState = "active" | "gone" | "disabled" | "unknown";

export interface AccountStanding {
	readonly state: AccountState;
	/** os.time() of the account's creation, when known. */
	readonly created?: number;
	/** When no creation time is known: the last deletion of an account of this name (the current one is younger). */
	readonly deleted_before?: number;
}

interface CreationRecord {
	readonly created: number;
}

/** An account as mod_auth_internal_hashed and _plain store it (only what is read here). */
interface StoredAccount {
	readonly created?: number;
	readonly disabled?: boolean;
}

interface AccountDetails {
	/** mod_register_ibr: os.time() of the in-band registration. */
	readonly registered?: number;
}

/** The auth providers whose records this module reads directly. */
const INTERNAL_PROVIDERS = new LuaTable<string, true>();
INTERNAL_PROVIDERS.set("internal_hashed", true);
INTERNAL_PROVIDERS.set("internal_plain", true);

/** What usermanager's dummy methods answer for what a provider lacks. */
function cannot_tell(err: unknown): boolean {
	return err === "method not implemented" || err === "method not supported";
}

// Opened on first use: prosodyctl loads the module without storage.
let accounts_store: KeyvalStore<StoredAccount> | undefined;
let creation_store: KeyvalStore<CreationRecord> | undefined;
let details_store: KeyvalStore<AccountDetails> | undefined;
let deleted_store: MapStore<number> | undefined;

function creations(): KeyvalStore<CreationRecord> {
	creation_store ??= module.open_store<CreationRecord>("invites_register_account");
	return creation_store;
}

function deletions(): MapStore<number> {
	deleted_store ??= module.open_store<number>("invites_register_deleted", "map");
	return deleted_store;
}

function provider_of(host: string): AuthProvider | undefined {
	return usermanager.get_provider(host);
}

/** The provider's own name (rawget: usermanager's fallback would answer for anything). */
function provider_name(provider: AuthProvider | undefined): unknown {
	return provider !== undefined ? rawget(provider, "name") : undefined;
}

/** Whether the provider records creation times itself (13's internal providers, and any with get_account_info). */
function provider_records_creation(host: string): boolean {
	const provider = provider_of(host);
	return usermanager.get_account_info !== undefined && provider !== undefined && rawget(provider, "get_account_info") !== undefined;
}

function write_creation(username: string, host: string, source: string | undefined): LuaMultiReturn<[true] | [undefined, string]> {
	if (provider_records_creation(host) || source === "mod_register") {
		return $multi(true); // the provider records it, or mod_register_ibr did (account_details)
	}
	return creations().set(username, { created: os.time() });
}

/**
 * user-registered, on a server whose auth provider records no creation
 * time (0.12): remember when this account was created, unless
 * mod_register_ibr (`source` "mod_register") did. A failure is logged and
 * costs only this record (invites are then judged by existence).
 */
export function record_account_created(username: string, host: string, source: string | undefined): void {
	const [called, ok, err] = protected_call(write_creation, username, host, source);
	if (!called || !ok) {
		module.log("warn", "Could not record when account %s was created: %s", username, called ? err : ok);
	}
}

/** user-deleted: remember when an account of this name was last deleted in the server. */
export function record_account_deleted(username: string): void {
	const [ok, err] = deletions().set(undefined, username, os.time());
	if (!ok) {
		module.log("warn", "Could not record the deletion of account %s: %s", username, err);
	}
}

function recorded_creation(username: string): number | undefined {
	details_store ??= module.open_store<AccountDetails>("account_details");
	const [details] = details_store.get(username);
	if (details !== undefined && type(details) === "table" && type(details.registered) === "number") {
		return details.registered;
	}
	const [record] = creations().get(username);
	return record !== undefined && type(record) === "table" && type(record.created) === "number" ? record.created : undefined;
}

/** An account that exists: its creation time, or else when an account of its name was last deleted. */
function active(state: "active" | "disabled", username: string, created: unknown): AccountStanding {
	if (type(created) === "number") {
		return { state, created: created as number };
	}
	const recorded = recorded_creation(username);
	if (recorded !== undefined) {
		return { state, created: recorded };
	}
	const [deleted] = deletions().get(undefined, username);
	return { state, deleted_before: type(deleted) === "number" ? deleted : undefined };
}

/** Prosody's internal providers: the account's record, read directly. */
function standing_from_record(username: string): AccountStanding {
	accounts_store ??= module.open_store<StoredAccount>("accounts");
	const [account, err] = accounts_store.get(username);
	if (account === undefined) {
		if (err !== undefined) {
			module.log("error", "Could not read account %s: %s", username, err);
			return { state: "unknown" };
		}
		return { state: "gone" };
	}
	if (type(account) !== "table") {
		return { state: "unknown" };
	}
	return active(account.disabled === true ? "disabled" : "active", username, account.created);
}

/** Other providers, through usermanager: what they can tell. */
function standing_from_provider(username: string, host: string, provider: AuthProvider | undefined): AccountStanding {
	let created: unknown;
	if (usermanager.get_account_info !== undefined) {
		const [info, err] = usermanager.get_account_info(username, host);
		if (info !== undefined && type(info) === "table") {
			created = info.created;
		} else if (!cannot_tell(err)) {
			// The provider knows account info, and has none for this name.
			return { state: "gone" };
		}
	}
	const exists = provider?.user_exists !== undefined ? provider.user_exists(username) : usermanager.user_exists(username, host);
	if (!exists) {
		return { state: "gone" };
	}
	let enabled: unknown = true;
	if (usermanager.user_is_enabled !== undefined) {
		[enabled] = usermanager.user_is_enabled(username, host); // false when disabled; nil or a table when it cannot tell
	}
	return active(enabled === false ? "disabled" : "active", username, created);
}

function read_standing(username: string, host: string): AccountStanding {
	const provider = provider_of(host);
	const name = provider_name(provider);
	if (typeof name === "string" && INTERNAL_PROVIDERS.has(name)) {
		return standing_from_record(username);
	}
	return standing_from_provider(username, host, provider);
}

/**
 * The standing of local account `username`. "unknown" when it could not
 * be read (logged): the caller answers a temporary failure.
 */
export function account_standing(username: string, host: string): AccountStanding {
	const [ok, standing] = pcall(read_standing, username, host);
	if (!ok) {
		module.log("error", "Could not check account %s: %s", username, standing);
		return { state: "unknown" };
	}
	return standing;
}
