/**
 * The fuzzer's model: what the world remembers of sessions and invites, the
 * snapshots it compares before and after each action, and the small
 * helpers the model's rules use (usernames as Prosody prepares them, error
 * conditions, the names the actions draw from). Used by the FuzzWorld
 * layers (fuzz_world_base.ts … fuzz_world.ts).
 */
import { Element } from "ltx";
import { type Session } from "../../harness/sim/prosody_sim.js";
import { type InviteKind } from "./fuzz_actions.js";

export class FuzzViolation extends Error {}

/** Free usernames that registrations racing each other ask for. */
export const RACE_NAMES = ["carol", "dave", "eve", "mallory", "zed"] as const;
/** Names an invite can be made for, as an admin would type them. */
export const BOUND_NAMES = ["alice", "bob", "carol", "dave", "Eve", "mallory", "ALICE", "Carol", "a b", "ø"] as const;
export const MAX_TOKEN_BYTES = 128;
export const NS_PARS = "urn:xmpp:pars:0";
export const NS_REGISTER = "jabber:iq:register";
/** Stores whose writes invariant 5 counts. */
export const GUARDED_STORES = ["invite_token", "accounts", "roster"] as const;

export interface ModelSession {
	ref: Session;
	label: string;
	kind: "unauthed" | "c2s" | "destroyed";
	secure: boolean;
	user?: string;
	full?: string;
	/** The token of the last <preauth/> this session got a result for. */
	validated?: string;
}

export interface ModelInvite {
	token: string;
	kind: InviteKind;
	/** Can create an account (account, group, contact with ibr=y). */
	registers: boolean;
	reusable: boolean;
	/** The (nodeprepped) username it is bound to: an account invite made for a name, or a reset. */
	bound?: string;
	/** A reset invite: the account it resets. */
	reset?: string;
	/** Made through mod_invites on this server (invite-created fired): its name is reserved at once. */
	announced: boolean;
	/** A contact invite: the (nodeprepped) user who made it. */
	creator?: string;
}

export interface Snapshot {
	accounts: Map<string, string>;
	/** When each account was created, where the module can know it (13's account records, 0.12: the module's own). */
	accountsCreated: Map<string, number | undefined>;
	/** Disabled accounts (13). */
	disabled: Set<string>;
	/** Host-wide invite records: token → expiry. */
	records: Map<string, number | undefined>;
	/** Host-wide invite records: token → created_at. */
	recordsCreated: Map<string, number | undefined>;
	/** Contact invites: "user token" → expiry. */
	contacts: Map<string, number | undefined>;
	writes: Record<string, number>;
	errors: number;
	now: number;
}

export interface RawSnapshot {
	accounts: { user: string; password: string; created?: number; disabled?: boolean }[];
	records: { token: string; expires?: number; created_at?: number }[];
	contacts: { user: string; token: string; expires?: number }[];
	writes: Record<string, number>;
	errors: number;
	now: number;
}

export function toSnapshot(raw: RawSnapshot): Snapshot {
	return {
		accounts: new Map(raw.accounts.map(({ user, password }) => [user, password])),
		accountsCreated: new Map(raw.accounts.map(({ user, created }) => [user, created])),
		disabled: new Set(raw.accounts.filter((a) => a.disabled === true).map((a) => a.user)),
		records: new Map(raw.records.map(({ token, expires }) => [token, expires])),
		recordsCreated: new Map(raw.records.map(({ token, created_at }) => [token, created_at])),
		contacts: new Map(raw.contacts.map(({ user, token, expires }) => [`${user} ${token}`, expires])),
		writes: raw.writes,
		errors: raw.errors,
		now: raw.now,
	};
}

/** user-registered or user-password-reset, as fired during an action. */
export interface Observed {
	kind: "registered" | "reset";
	username?: string;
	source?: string;
	/** Index (from 1) of the session it names, among the world's sessions. */
	session?: number;
}

export interface SentIq {
	stanza: Element;
	origin?: ModelSession;
	/** What the origin received while it was processed (answers arrive there). */
	answers: Element[];
	/** Answers to a destroyed session are lost: nothing to count. */
	countable: boolean;
	label: string;
}

/** Every stanza seen during one action, wherever it went. */
export interface Seen {
	stanzas: Element[];
}

export interface FuzzStats {
	actions: number;
	accountsCreated: number;
	resets: number;
	approvals: number;
	preauthAccepted: number;
	preauthRefused: number;
	eventsAllowed: number;
	formsPrefilled: number;
	webRegistered: number;
}

export function emptyStats(): FuzzStats {
	return { actions: 0, accountsCreated: 0, resets: 0, approvals: 0, preauthAccepted: 0, preauthRefused: 0, eventsAllowed: 0, formsPrefilled: 0, webRegistered: 0 };
}

/** nodeprep as the simulator does it (ASCII lowercasing; nil for prohibited characters). */
export function nodeprep(name: string): string | undefined {
	if (Buffer.byteLength(name) > 1023 || /[\u0000-\u0020"&'/:<>@\u007f]/.test(name)) return undefined;
	return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A username as an invite's name compares: prepped, or as given when it cannot be. */
export function normalise(name: string): string {
	return nodeprep(name) ?? name;
}

export function errorCondition(stanza: Element | undefined): string | undefined {
	const condition = stanza?.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text");
	return condition?.name;
}

/** Usernames a web registration form passes on (nodeprepped, as it does). */
export function webNames(): string[] {
	return BOUND_NAMES.filter((n) => nodeprep(n) !== undefined).map(normalise);
}

export function childElements(el: Element): Element[] {
	return el.children.filter((c): c is Element => typeof c !== "string");
}

export function show(value: unknown): string {
	const text = value instanceof Element ? value.toString() : JSON.stringify(value);
	return text !== undefined && text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : String(text);
}

export function isSubscribed(item: { subscription?: string } | undefined): boolean {
	return item?.subscription === "from" || item?.subscription === "both";
}

