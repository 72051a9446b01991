/**
 * Runs the actions of spec/support/fuzz_actions.ts on one simulated
 * Prosody (the BUILT module, dist-lua/), keeps a model of what is
 * legitimate, and checks the invariants after every action:
 *
 *  1. no Lua error escapes a hook (sim.errors() stays empty);
 *  2. an IQ of type set/get is answered exactly once (or forwarded once to
 *     its addressee), an IQ of type result/error is never answered;
 *  3. no account is created, and no password reset, without a valid invite
 *     that allows it (invite-only mode): still stored, not used up, made
 *     for this username if bound to one, the name not reserved for another
 *     pending invite, a reset only for its own existing account; a
 *     user-registering event is never left allowed without one; and a
 *     subscription is never pre-approved without a valid contact invite of
 *     that user (XEP-0379);
 *  4. a single-use invite is used at most once (one account, one reset or
 *     one subscription);
 *  5. nothing is written to the invite_token, accounts and roster stores by
 *     a <preauth/>, a registration or a user-registering event with an
 *     invalid token or none (nor to invite_token and accounts by a
 *     subscription request with one: mod_presence records the request in
 *     the roster, as without token);
 *  6. no token — of a real invite, or presented by a client — is logged
 *     above debug level, nor by the module at any level.
 *
 * And what the module promises on the way: <preauth/> accepts no token
 * that is not stored and unexpired, and refuses a valid one only as a
 * temporary resource-constraint (too many invalid tokens from that
 * session or address); the registration form is only pre-filled with the
 * username the session's own invite is bound to; the invite stream
 * features are offered only to unauthenticated secure streams.
 *
 * What the model leaves to Prosody: its router's own answers (a c2s IQ
 * without id; it raises on an IQ error without id, never sent), and
 * storage failures its own code does not survive (a raising accounts,
 * roster or account_details store; a failing read of accounts, after
 * which mod_register_ibr overwrites the account).
 *
 * A broken invariant throws a FuzzViolation naming it, with the transcript
 * of the run so far (every stanza sent and received), which fast-check
 * shrinks to a minimal sequence.
 */
import path from "node:path";
import { Element } from "ltx";
import type { LuaRef, ToLua } from "./lua_state.js";
import { ProsodySim, type Session } from "./prosody_sim.js";
import { repoRoot, type ProsodyVersion } from "./prosody_sources.js";
import {
	CLIENT_ADDRESSES,
	INITIAL_ACCOUNTS,
	REMOTE_JIDS,
	USERNAMES,
	type Action,
	type EventInvite,
	type EventSession,
	type ExtraChild,
	type FieldChoice,
	type InviteKind,
	type IqShape,
	type Scenario,
	type Store,
	type TokenChoice,
	type ToChoice,
} from "./fuzz_actions.js";

export class FuzzViolation extends Error {}

/** Free usernames that registrations racing each other ask for. */
const RACE_NAMES = ["carol", "dave", "eve", "mallory", "zed"] as const;
/** Names an invite can be made for, as an admin would type them. */
const BOUND_NAMES = ["alice", "bob", "carol", "dave", "Eve", "mallory", "ALICE", "Carol", "a b", "ø"] as const;
const MAX_TOKEN_BYTES = 128;
const NS_PARS = "urn:xmpp:pars:0";
const NS_REGISTER = "jabber:iq:register";
/** Stores whose writes invariant 5 counts. */
const GUARDED_STORES = ["invite_token", "accounts", "roster"] as const;

interface ModelSession {
	ref: Session;
	label: string;
	kind: "unauthed" | "c2s" | "destroyed";
	secure: boolean;
	user?: string;
	full?: string;
	/** The token of the last <preauth/> this session got a result for. */
	validated?: string;
}

interface ModelInvite {
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

interface Snapshot {
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

interface RawSnapshot {
	accounts: { user: string; password: string; created?: number; disabled?: boolean }[];
	records: { token: string; expires?: number; created_at?: number }[];
	contacts: { user: string; token: string; expires?: number }[];
	writes: Record<string, number>;
	errors: number;
	now: number;
}

function toSnapshot(raw: RawSnapshot): Snapshot {
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
interface Observed {
	kind: "registered" | "reset";
	username?: string;
	source?: string;
	/** Index (from 1) of the session it names, among the world's sessions. */
	session?: number;
}

interface SentIq {
	stanza: Element;
	origin?: ModelSession;
	/** What the origin received while it was processed (answers arrive there). */
	answers: Element[];
	/** Answers to a destroyed session are lost: nothing to count. */
	countable: boolean;
	label: string;
}

/** Every stanza seen during one action, wherever it went. */
interface Seen {
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
function nodeprep(name: string): string | undefined {
	if (Buffer.byteLength(name) > 1023 || /[\u0000-\u0020"&'/:<>@\u007f]/.test(name)) return undefined;
	return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** A username as an invite's name compares: prepped, or as given when it cannot be. */
function normalise(name: string): string {
	return nodeprep(name) ?? name;
}

function errorCondition(stanza: Element | undefined): string | undefined {
	const condition = stanza?.getChild("error")?.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === "urn:ietf:params:xml:ns:xmpp-stanzas" && c.name !== "text");
	return condition?.name;
}

/** Usernames a web registration form passes on (nodeprepped, as it does). */
function webNames(): string[] {
	return BOUND_NAMES.filter((n) => nodeprep(n) !== undefined).map(normalise);
}

function childElements(el: Element): Element[] {
	return el.children.filter((c): c is Element => typeof c !== "string");
}

function show(value: unknown): string {
	const text = value instanceof Element ? value.toString() : JSON.stringify(value);
	return text !== undefined && text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : String(text);
}

function isSubscribed(item: { subscription?: string } | undefined): boolean {
	return item?.subscription === "from" || item?.subscription === "both";
}

export class FuzzWorld {
	readonly sim: ProsodySim;
	readonly host: string;
	private readonly sessions: ModelSession[] = [];
	private readonly invites: ModelInvite[] = [];
	/** Single-use tokens already used (account, reset, subscription). */
	private readonly consumed = new Set<string>();
	/** Tokens clients presented, checked in the logs too (long enough not to occur by chance). */
	private readonly presented = new Set<string>();
	/** Everything done and seen, for the report of a violation (and FUZZ_VERBOSE). */
	readonly transcript: string[] = [];
	private readonly failing = new Map<Store, { how: "error" | "raise"; op: "get" | "set" | null; until: number }>();
	private logIndex = 1;
	private step = 0;
	private resources = 0;
	private before!: Snapshot;
	/** The state once the action is over (while its checks run). */
	private after: Snapshot | undefined;
	/** Accounts created and passwords reset during the action, as their events told. */
	private observed: Observed[] = [];
	private seen: Seen = { stanzas: [] };
	/** The tokens sessions present within a burst (a registration there may use either). */
	private burstTokens: Map<ModelSession, string[]> | undefined;
	private webCreated: { username: string; token: string | undefined } | undefined;
	/** Storage yields on every call for the whole run. */
	private readonly yielding: boolean;

	constructor(
		readonly version: ProsodyVersion,
		private readonly stats: FuzzStats = emptyStats(),
		options: { yielding?: boolean } = {},
	) {
		this.sim = ProsodySim.create({ version });
		this.host = this.sim.host;
		this.sim.call("FuzzDriver = FuzzDriver or dofile(...); FuzzDriver.observe(sim)", path.join(repoRoot, "spec/support/fuzz_driver.lua"));
		for (const name of INITIAL_ACCOUNTS) this.sim.createUser(name, `initial-${name}`);
		this.addSession(this.sim.connect(), "unauthed", true);
		this.addSession(this.sim.connect({ secure: false }), "unauthed", false);
		this.login("alice");
		this.closeSession(this.addSession(this.sim.connect(), "unauthed", true));
		this.sim.call("FuzzDriver.drain(sim, ...)", this.sessions.map((s) => s.ref));
		this.yielding = options.yielding ?? false;
		this.sim.storage.setYielding(this.yielding);
		this.before = this.snapshot();
		this.note(`Prosody ${version}; accounts ${INITIAL_ACCOUNTS.join(", ")}; sessions ${this.sessions.map((s) => s.label).join(", ")}; storage ${options.yielding ? "yielding" : "immediate"}`);
	}

	/** Runs a whole scenario on a new simulator; throws FuzzViolation on the first broken invariant. */
	static run(version: ProsodyVersion, scenario: Scenario, stats?: FuzzStats): FuzzWorld {
		const world = new FuzzWorld(version, stats, { yielding: scenario.yielding });
		for (const action of scenario.actions) world.apply(action);
		world.finish();
		return world;
	}

	// -------------------------------------------------------------------------
	// Driving

	apply(action: Action): void {
		if (action.a === "flow" || action.a === "contact-flow" || action.a === "web-flow" || action.a === "race") {
			this.note(`#${this.step} ${show(action)}`);
			const steps =
				action.a === "flow" ? this.expandFlow(action)
				: action.a === "contact-flow" ? this.expandContactFlow(action)
				: action.a === "web-flow" ? this.expandWebFlow(action)
				: this.expandRace(action);
			for (const sub of steps) this.apply(sub());
			return;
		}
		this.stats.actions += 1;
		this.healStorage();
		this.note(`#${this.step++} ${show(action)}`);
		try {
			this.seen = { stanzas: [] };
			this.after = undefined;
			const sent: SentIq[] = [];
			const checks: (() => void)[] = [];
			this.perform(action, sent, checks);
			const after = this.afterAction();
			for (const iq of sent) this.checkAnswered(iq);
			for (const check of checks) check();
			this.checkAccounts(action, after);
			this.before = after;
		} catch (err) {
			if (err instanceof FuzzViolation) throw this.withTranscript(err.message);
			throw this.withTranscript(`harness error (no invariant): ${(err as Error).stack ?? String(err)}`);
		} finally {
			this.burstTokens = undefined;
			this.webCreated = undefined;
		}
	}

	/** End of a run: storage healed, and nothing escaped meanwhile. */
	finish(): void {
		for (const store of this.failing.keys()) this.sim.storage.fail(store, undefined);
		try {
			this.afterAction();
		} catch (err) {
			throw this.withTranscript((err as Error).message);
		}
	}

	/**
	 * After an action, in one call into Lua: what every session and the
	 * remote side received, escaped errors (invariant 1), new log entries
	 * (invariant 6), and the new state.
	 */
	private afterAction(): Snapshot {
		const raw = this.sim.call("return FuzzDriver.after(sim, ...)", this.sessions.map((s) => s.ref), this.logIndex) as {
			observed: Observed[];
			closed: boolean[];
			drained: { sessions: { stanzas: Element[] }[]; remote: Element[] };
			errors: string[];
			logs: { entries: { source: string; level: string; message: string }[]; next: number };
			snapshot: RawSnapshot;
		};
		this.sessions.forEach((session, i) => this.received(session.label, raw.drained.sessions[i]?.stanzas ?? []));
		this.received("remote", raw.drained.remote);
		this.sessions.forEach((session, i) => {
			if (raw.closed[i]) this.closedByServer(session);
		});
		if (raw.errors.length > 0) this.fail(1, `a Lua error escaped a hook:\n${raw.errors.join("\n---\n")}`);
		this.logIndex = raw.logs.next;
		const secrets = [...this.invites.map((i) => i.token), ...this.presented];
		for (const entry of raw.logs.entries) {
			for (const secret of secrets) {
				if (entry.message.includes(secret)) this.fail(6, `token ${show(secret)} logged at ${entry.level} by ${entry.source}: ${show(entry.message)}`);
			}
		}
		this.after = toSnapshot(raw.snapshot);
		this.observed = raw.observed;
		return this.after;
	}

	private perform(action: Action, sent: SentIq[], checks: (() => void)[]): void {
		switch (action.a) {
			case "connect":
				this.connect(action.secure, action.ip < 0 ? `192.0.2.${-action.ip}` : CLIENT_ADDRESSES[action.ip % CLIENT_ADDRESSES.length]);
				return;
			case "login": {
				const accounts = this.accountList();
				if (accounts.length > 0) this.login(accounts[action.account % accounts.length]);
				return;
			}
			case "close":
				this.closeSession(this.session(action.session));
				return;
			case "invite":
				this.createInvite(action.kind, action.name, action.ttl, action.inviter);
				return;
			case "delete-invite": {
				const invite = this.invite(action.invite);
				if (invite) this.tolerate(() => this.sim.invites.delete(invite.token), "delete invite");
				return;
			}
			case "account": {
				const accounts = this.accountList();
				if (accounts.length === 0) return;
				const user = accounts[action.account % accounts.length];
				if (action.how === "delete") this.tolerate(() => this.sim.deleteUser(user), `delete account ${user}`);
				else if (action.how === "delete-elsewhere") this.tolerate(() => this.sim.deleteUserElsewhere(user), `delete account ${user} elsewhere`);
				else if (this.version !== "0.12") this.tolerate(() => (action.how === "disable" ? this.sim.disableUser(user) : this.sim.enableUser(user)), `${action.how} account ${user}`);
				return;
			}
			case "advance":
				this.sim.advance(action.seconds);
				return;
			case "storage":
				this.setFailure(action.store, action.how, action.op, action.actions);
				return;
			case "features":
				this.features(action.s2s ? undefined : this.session(action.session));
				return;
			case "iq":
				this.routerIq(this.session(action.session), action.iq, sent, checks);
				return;
			case "s2s-iq":
				this.s2sIq(REMOTE_JIDS[action.remote], action.iq, sent, checks);
				return;
			case "hook-iq":
				this.hookIq(action.event, action.s2s ? undefined : this.session(action.session), action.iq, sent, checks);
				return;
			case "burst":
				this.burst(action.items, action.yielding ?? false, sent, checks);
				return;
			case "presence":
				this.presence(action, checks);
				return;
			case "registering":
				this.registering(action, checks);
				return;
			case "registered":
			case "password-reset":
				this.registered(action.a, action.session, action.invite, action.username);
				return;
			case "web":
				this.web(action.invite, action.username, checks);
				return;
			case "invite-created":
				this.sim.call("local t = ...; FuzzDriver.fire(sim, 'invite-created', t)", action.table as ToLua);
				return;
			case "flow":
			case "contact-flow":
			case "web-flow":
			case "race":
				return; // expanded by apply()
		}
	}

	/** An invite made, a client connecting, presenting it, asking for the form, registering. */
	private expandFlow(action: Extract<Action, { a: "flow" }>): (() => Action)[] {
		const steps: (() => Action)[] = [
			() => ({ a: "invite", kind: action.kind, name: action.name, ttl: null, inviter: action.username }),
			// Each invitee from an address of its own: the per-address limits are not theirs to hit.
			() => ({ a: "connect", secure: action.secure, ip: -(this.step % 250) - 1 }),
		];
		const client = (): number => this.sessions.length - 1;
		const base = { garbageType: "", to: "none" as const, from: "none" as const, attrs: [] as [string, string][] };
		if (action.present) {
			steps.push(() => ({
				a: "iq",
				session: client(),
				iq: { ...base, type: "set", id: `flow${this.step}-p`, payload: { p: "preauth", tokens: [{ t: "real", invite: this.invites.length - 1, mutate: "none" }], xmlns: NS_PARS, before: [], after: [], attrs: [] } },
			}));
		}
		steps.push(() => ({ a: "iq", session: client(), iq: { ...base, type: "get", id: `flow${this.step}-f`, payload: { p: "register-get", extra: [] } } }));
		steps.push(() => {
			// The name the invite is for, or another: a free one, or any from the pool.
			const bound = this.invites.at(-1)?.bound;
			const u = action.username;
			let username: FieldChoice = u % 2 === 0 ? { f: "pool", index: u } : { f: "random", value: RACE_NAMES[u % RACE_NAMES.length] };
			if (bound !== undefined && u % 4 < 2) {
				const index = USERNAMES.findIndex((name) => normalise(name) === bound);
				username = index >= 0 ? { f: "pool", index } : { f: "random", value: bound };
			}
			return { a: "iq", session: client(), iq: { ...base, type: "set", id: `flow${this.step}-r`, payload: { p: "register", username, password: { f: "unique" }, form: "none", remove: false, extra: [] } } };
		});
		return steps;
	}

	/**
	 * An invite, presented by several clients, who then all register at once
	 * while storage yields between every step (a single-use invite must still
	 * create one account).
	 */
	private expandRace(action: Extract<Action, { a: "race" }>): (() => Action)[] {
		const base = { garbageType: "", to: "none" as const, from: "none" as const, attrs: [] as [string, string][] };
		// A reset of an existing account; otherwise free names (or the name the invite is for).
		const name = action.kind === "reset" ? action.usernames[0] % 2 : action.usernames[0];
		const steps: (() => Action)[] = [() => ({ a: "invite", kind: action.kind, name, ttl: null, inviter: action.usernames[1] })];
		for (let i = 0; i < action.clients; i++) {
			steps.push(() => ({ a: "connect", secure: true, ip: -(this.step % 250) - 1 }));
			steps.push(() => ({
				a: "iq",
				session: this.sessions.length - 1,
				iq: { ...base, type: "set", id: `race${this.step}`, payload: { p: "preauth", tokens: [{ t: "real", invite: this.invites.length - 1, mutate: "none" }], xmlns: NS_PARS, before: [], after: [], attrs: [] } },
			}));
		}
		steps.push(() => {
			const bound = this.invites.at(-1)?.bound;
			const items = action.usernames.slice(0, action.clients).map((u, i) => {
				const value = bound !== undefined && (u % 3 !== 0 || action.kind === "reset") ? bound : RACE_NAMES[u % RACE_NAMES.length];
				const iq: IqShape = { ...base, type: "set", id: "", payload: { p: "register", username: { f: "random", value }, password: { f: "unique" }, form: "none", remove: false, extra: [] } };
				return { session: this.sessions.length - action.clients + i, iq };
			});
			return { a: "burst", items, yielding: true };
		});
		return steps;
	}

	/** An invite made, and used on the web (for the name it is bound to, mostly). */
	private expandWebFlow(action: Extract<Action, { a: "web-flow" }>): (() => Action)[] {
		return [
			() => ({ a: "invite", kind: action.kind, name: action.name, ttl: null, inviter: action.username }),
			() => {
				const bound = this.invites.at(-1)?.bound;
				const names = webNames();
				const index = bound !== undefined && action.username % 3 !== 0 ? names.indexOf(bound) : -1;
				return { a: "web", invite: { kind: "genuine", invite: this.invites.length - 1 }, username: index >= 0 ? index : action.username };
			},
		];
	}

	/** A user makes a contact invite; a local or remote contact subscribes with it. */
	private expandContactFlow(action: Extract<Action, { a: "contact-flow" }>): (() => Action)[] {
		const accounts = this.accountList();
		if (accounts.length === 0) return [];
		const inviterIndex = action.inviter % accounts.length;
		const inviter = accounts[inviterIndex];
		const other = accounts.findIndex((a) => a !== inviter);
		const token: TokenChoice[] = [{ t: "real", invite: this.invites.length, mutate: "none" }];
		const steps: (() => Action)[] = [() => ({ a: "invite", kind: action.ibr ? "contact-ibr" : "contact", name: 0, ttl: null, inviter: inviterIndex })];
		if (action.local && other >= 0) {
			steps.push(() => ({ a: "login", account: other }));
			steps.push(() => ({ a: "presence", from: { local: this.sessions.length - 1 }, to: "account", user: inviterIndex, type: "subscribe", tokens: token, extra: [] }));
		} else {
			steps.push(() => ({ a: "presence", from: { remote: action.remote }, to: "account", user: inviterIndex, type: "subscribe", tokens: token, extra: [] }));
		}
		return steps;
	}

	// -------------------------------------------------------------------------
	// Sessions, invites, storage

	private accountList(): string[] {
		return [...this.snapshotAccounts().keys()].sort();
	}

	private snapshotAccounts(): Map<string, string> {
		return this.before?.accounts ?? new Map();
	}

	private addSession(ref: Session, kind: ModelSession["kind"], secure: boolean, user?: string, full?: string, ip?: string): ModelSession {
		const label = `s${this.sessions.length}:${kind}${kind === "unauthed" ? (secure ? "/tls" : "/plain") : ""}${user ? `:${user}` : ""}${ip ? `@${ip}` : ""}`;
		const session: ModelSession = { ref, kind, secure, user, full, label };
		this.sessions.push(session);
		return session;
	}

	private connect(secure: boolean, ip: string): void {
		const ref = this.sim.connect({ secure });
		this.sim.call("local s, ip = ...; s.ip = ip", ref, ip);
		this.addSession(ref, "unauthed", secure, undefined, undefined, ip);
	}

	private login(user: string): void {
		const resource = `r${++this.resources}`;
		const ref = this.tolerate(() => this.sim.login(user, resource, { available: true }), `login ${user}`);
		if (ref) this.addSession(ref, "c2s", true, user, `${user}@${this.host}/${resource}`);
	}

	private closeSession(session: ModelSession): void {
		this.tolerate(() => this.sim.close(session.ref), `close ${session.label}`);
		session.kind = "destroyed";
		session.validated = undefined; // the session table is retired: nothing is left on it
		session.label = session.label.replace(/:(unauthed\/\w+|c2s)/, ":destroyed");
	}

	/** A session the server closed (too many invalid tokens): retired in the model too. */
	private closedByServer(session: ModelSession): void {
		if (session.kind === "destroyed") return;
		this.note(`   ${session.label} closed by the server`);
		session.kind = "destroyed";
		session.validated = undefined;
		session.label = session.label.replace(/:(unauthed\/\w+|c2s)/, ":destroyed");
	}

	private session(n: number): ModelSession {
		return this.sessions[n % this.sessions.length];
	}

	private invite(n: number): ModelInvite | undefined {
		return this.invites.length === 0 ? undefined : this.invites[n % this.invites.length];
	}

	private inviteByToken(token: string | undefined): ModelInvite | undefined {
		return token === undefined ? undefined : this.invites.find((i) => i.token === token);
	}

	private describeToken(token: string | undefined): string {
		if (token === undefined) return "none";
		const i = this.invites.findIndex((inv) => inv.token === token);
		return i < 0 ? `${show(token)} (no invite)` : `i${i} (${this.invites[i].kind}${this.consumed.has(token) ? ", used" : ""})`;
	}

	/** Harness steps that storage failures may make impossible (making an invite, logging in). */
	private tolerate<T>(f: () => T, what: string): T | undefined {
		try {
			return f();
		} catch (err) {
			if (this.failing.size === 0) throw err;
			this.note(`   (${what} failed under a storage failure: ${String((err as Error).message).split("\n")[0]})`);
			return undefined;
		}
	}

	private setFailure(store: Store, how: "error" | "raise" | null, op: "get" | "set" | null, actions: number): void {
		// Only failures that Prosody's own code (mod_register_ibr, mod_presence, usermanager,
		// rostermanager) survives: the invariants are about this module.
		if (how === "raise" && (store === "accounts" || store === "roster" || store === "account_details")) how = "error";
		// A failing read of accounts makes usermanager report no account, and mod_register_ibr then
		// overwrites the existing one: Prosody's behaviour, which would read as a takeover here.
		if (store === "accounts") op = "set";
		if (how === null) this.failing.delete(store);
		else this.failing.set(store, { how, op, until: this.step + actions });
		this.sim.storage.fail(store, how ?? undefined, op ?? undefined);
		this.note(`   storage ${store}${op ? `:${op}` : ""} → ${how === null ? "healed" : `${how} for ${actions} actions`}`);
	}

	/** Storage failures last a few actions. */
	private healStorage(): void {
		for (const [store, failure] of this.failing) {
			if (failure.until > this.step) continue;
			this.failing.delete(store);
			this.sim.storage.fail(store, undefined);
			this.note(`   storage ${store} healed`);
		}
	}

	private readFails(store: Store): boolean {
		const f = this.failing.get(store);
		return f !== undefined && (f.op === null || f.op === "get");
	}

	private createInvite(kind: InviteKind, nameIndex: number, ttl: number | null, inviterIndex: number): void {
		const name = BOUND_NAMES[nameIndex % BOUND_NAMES.length];
		const accounts = this.accountList();
		// Mostly an existing account, sometimes a name without account.
		const inviter = accounts.length > 0 && inviterIndex < 16 ? accounts[inviterIndex % accounts.length] : USERNAMES[inviterIndex % 6];
		const t = ttl ?? undefined;
		const inv = this.sim.invites;
		const made = this.tolerate(() => {
			switch (kind) {
				case "account":
					return inv.createAccount(undefined, undefined, t);
				case "account-for":
					return inv.createAccount(name, undefined, t);
				case "account-roles":
					return inv.createAccount(undefined, { roles: inviterIndex % 2 === 0 ? ["prosody:admin", "prosody:no-such-role"] : { "prosody:operator": true }, groups: ["crew", 7] }, t);
				case "reset":
					return inv.createReset(name, t);
				case "contact":
					return inv.createContact(inviter, false, undefined, t);
				case "contact-ibr":
					return inv.createContact(inviter, true, undefined, t);
				case "group":
					return inv.createGroup(["crew", "friends"]);
				case "group-reusable":
					return inv.createGroup(["crew"], undefined, t ?? 3600);
				case "elsewhere":
					return inv.createElsewhere(name, t ?? 3600);
			}
		}, `create ${kind} invite`);
		if (!made) return;
		const invite: ModelInvite = { token: made.token, kind, registers: kind !== "reset" && kind !== "contact", reusable: kind === "group-reusable", announced: kind !== "elsewhere" };
		if (kind === "account-for" || kind === "elsewhere") invite.bound = normalise(name);
		if (kind === "reset") invite.bound = invite.reset = normalise(name);
		if (kind === "contact" || kind === "contact-ibr") invite.creator = normalise(inviter);
		this.invites.push(invite);
		this.note(`   i${this.invites.length - 1} = ${kind} invite${invite.bound ? ` for ${invite.bound}` : ""}${kind.startsWith("contact") ? ` by ${inviter}` : ""}, expires in ${t ?? "default"}`);
	}

	// -------------------------------------------------------------------------
	// Reading the simulator

	private snapshot(): Snapshot {
		return toSnapshot(this.sim.call("return FuzzDriver.snapshot(sim)") as RawSnapshot);
	}

	/** Whether <preauth/> with `token` may be accepted: stored, unexpired, the accounts it names standing (when the action began). */
	private acceptable(token: string): boolean {
		const expires = this.before.records.get(token);
		const invite = this.inviteByToken(token);
		return expires !== undefined && this.before.now <= expires && (invite === undefined || this.accountsStand(invite));
	}

	/**
	 * The module's rule for the accounts an invite names (its creator, the
	 * account a reset resets): each exists and, where both times are known,
	 * was created no later than the invite (else it is a later account of
	 * the same name).
	 */
	private accountsStand(invite: ModelInvite): boolean {
		const createdAt = this.before.recordsCreated.get(invite.token);
		return [invite.creator, invite.reset].every((account) => {
			if (account === undefined) return true;
			if (!this.before.accounts.has(account) || this.before.disabled.has(account)) return false;
			const created = this.before.accountsCreated.get(account);
			return created === undefined || createdAt === undefined || created <= createdAt;
		});
	}

	/** Pending invites made here for `name` (the module knows them), other than `token`'s. */
	private reservedFor(name: string, token: string | undefined): ModelInvite | undefined {
		return this.invites.find((i) => {
			if (i.token === token || i.bound !== name || i.reset !== undefined || !i.announced) return false;
			if (!i.reusable && this.consumed.has(i.token)) return false;
			const expires = this.before.records.get(i.token);
			return expires !== undefined && expires > this.before.now;
		});
	}

	/**
	 * Whether `token` may create the account `username` or reset its password
	 * (as the action began): the invite still stored and not used up, bound
	 * to this name if bound to one, the name not reserved for another pending
	 * invite; an existing account only for a reset invite of its own.
	 */
	private legitimate(token: string | undefined, username: string | undefined, what: "create" | "reset" | "either"): { ok: boolean; why: string; invalidToken: boolean; used?: boolean } {
		const refuse = (why: string, invalidToken = false, used = false) => ({ ok: false, why, invalidToken, used });
		if (token === undefined) return refuse("no invite", true);
		const invite = this.inviteByToken(token);
		if (!invite) return refuse(`token ${show(token)} is no invite`, true);
		if (!this.before.records.has(token)) return refuse(`invite ${this.describeToken(token)} is no longer stored`, true);
		if (!invite.reusable && this.consumed.has(token)) return refuse(`single-use invite ${this.describeToken(token)} was already used`, true, true);
		if (!this.accountsStand(invite)) return refuse(`an account ${this.describeToken(token)} names no longer stands`, true);
		// An event without a (string) username creates nothing: what matters is that the invite is valid.
		if (username === undefined) return invite.registers || invite.reset !== undefined ? { ok: true, why: "", invalidToken: false } : refuse(`${this.describeToken(token)} allows no registration`);
		const exists = this.before.accounts.has(username);
		if (invite.reset !== undefined) {
			if (what === "create") return refuse(`reset invite ${this.describeToken(token)} cannot create an account`);
			if (invite.reset !== username || !exists) return refuse(`reset invite for ${invite.reset} used for ${username}${exists ? "" : " (no such account)"}`);
			return { ok: true, why: "", invalidToken: false };
		}
		if (what === "reset") return refuse(`${this.describeToken(token)} is no reset invite`);
		if (!invite.registers) return refuse(`${this.describeToken(token)} does not allow registration`);
		if (exists) return refuse(`account ${username} exists`);
		if (invite.bound !== undefined && invite.bound !== username) return refuse(`invite bound to ${invite.bound}, not ${username}`);
		const reserved = invite.bound === undefined ? this.reservedFor(username, token) : undefined;
		if (reserved) return refuse(`${username} is reserved for pending invite ${this.describeToken(reserved.token)}`);
		return { ok: true, why: "", invalidToken: false };
	}

	private received(where: string, stanzas: Element[]): Element[] {
		for (const s of stanzas) {
			this.note(`   ${where} ← ${show(s)}`);
			this.seen.stanzas.push(s);
		}
		return stanzas;
	}

	/** Writes counted so far: after the action when it is over. */
	private writesNow(): Record<string, number> {
		return this.after?.writes ?? (this.sim.call("return FuzzDriver.writes(sim)") as Record<string, number>);
	}

	/**
	 * Invariant 5: nothing written to `stores` from `base` (the counts as the
	 * action began: each action sends one stanza or fires one event) to now.
	 */
	private expectNoWrites(base: Record<string, number>, stores: readonly string[], what: string): void {
		if (this.burstTokens !== undefined) return; // a burst mixes valid and invalid attempts
		const now = this.writesNow();
		const written = stores.filter((s) => (now[s] ?? 0) > (base[s] ?? 0));
		if (written.length > 0) this.fail(5, `${what} wrote to ${written.map((s) => `${s} (${(now[s] ?? 0) - (base[s] ?? 0)}×)`).join(", ")}`);
	}

	// -------------------------------------------------------------------------
	// Building stanzas

	private tokenValue(choice: TokenChoice | undefined): string | undefined {
		if (choice === undefined) return undefined;
		let value: string;
		switch (choice.t) {
			case "real": {
				const token = this.invite(choice.invite)?.token ?? "NoInviteMadeYetNoInviteX";
				value = {
					none: token,
					upper: token.toUpperCase() === token ? `${token}x` : token.toUpperCase(),
					suffix: `${token}A`,
					prefix: `A${token}`,
					truncate: token.slice(0, -1),
					pad: ` ${token} `,
				}[choice.mutate];
				break;
			}
			case "fake":
			case "unicode":
				value = choice.value;
				break;
			case "long":
				value = "A".repeat(choice.length);
				break;
			case "empty":
				return "";
			case "missing":
				return undefined;
		}
		if (value.length >= 12 && !this.invites.some((i) => i.token === value)) this.presented.add(value);
		return value;
	}

	private extraChild(child: ExtraChild): Element {
		const attrs: Record<string, string> = {};
		if (child.xmlns !== undefined) attrs.xmlns = child.xmlns;
		const token = this.tokenValue(child.token);
		if (token !== undefined) attrs.token = token;
		const el = new Element(child.name, attrs);
		if (child.text) el.t(child.text);
		return el;
	}

	private field(choice: FieldChoice): string | Element | undefined {
		switch (choice.f) {
			case "unique":
				return `pw-${this.step}-${this.transcript.length}`;
			case "missing":
				return undefined;
			case "empty":
				return "";
			case "pool":
				return USERNAMES[choice.index % USERNAMES.length];
			case "random":
				return choice.value;
			case "nested":
				return new Element("b").t("nested");
			case "long":
				return "u".repeat(choice.length);
		}
	}

	private address(choice: ToChoice, origin: ModelSession | undefined, s2s: boolean): string | undefined {
		const others = this.sessions.filter((s) => s.kind === "c2s" && s !== origin && s.full !== undefined);
		switch (choice) {
			case "none":
				return s2s ? this.host : undefined; // a server always addresses its stanzas
			case "host":
				return this.host;
			case "host-resource":
				return `${this.host}/fuzz`;
			case "local-bare":
				return `bob@${this.host}`;
			case "local-full":
				return others.length > 0 ? others[this.step % others.length].full : `bob@${this.host}/none`;
			case "own-bare":
				return origin?.user !== undefined ? `${origin.user}@${this.host}` : `carol@${this.host}`;
			case "remote":
				return s2s ? this.host : "bob@remote.example"; // a remote server only sends us our own stanzas
			case "garbage":
				return "@example.com";
			case "empty":
				return "";
		}
	}

	private buildIq(shape: IqShape, origin: ModelSession | undefined, s2sFrom?: string): Element {
		const attrs: Record<string, string> = {};
		for (const [k, v] of shape.attrs) attrs[k] = v;
		if (shape.type === "garbage") attrs.type = shape.garbageType;
		else if (shape.type === "missing") delete attrs.type;
		else attrs.type = shape.type;
		// Prosody's router raises on a c2s IQ error without id (it answers "missing id" to an error).
		if (shape.id === null && !(shape.type === "error" && origin?.kind === "c2s")) delete attrs.id;
		else attrs.id = shape.id ?? "";
		const to = this.address(shape.to, origin, s2sFrom !== undefined);
		if (to === undefined) delete attrs.to;
		else attrs.to = to;
		if (s2sFrom !== undefined) attrs.from = s2sFrom;
		else if (shape.from === "valid") attrs.from = `someone@${this.host}/x`;
		else if (shape.from === "garbage") attrs.from = "@@";
		else delete attrs.from;
		const iq = new Element("iq", attrs);
		const p = shape.payload;
		switch (p.p) {
			case "preauth": {
				for (const child of p.before) iq.cnode(this.extraChild(child));
				p.tokens.forEach((choice, i) => {
					const a: Record<string, string> = {};
					if (i === 0) for (const [k, v] of p.attrs) a[k] = v;
					a.xmlns = p.xmlns;
					const token = this.tokenValue(choice);
					if (token === undefined) delete a.token;
					else a.token = token;
					iq.cnode(new Element("preauth", a));
				});
				for (const child of p.after) iq.cnode(this.extraChild(child));
				break;
			}
			case "register": {
				const query = new Element("query", { xmlns: NS_REGISTER });
				iq.cnode(query);
				if (p.remove) query.cnode(new Element("remove"));
				const fields = [["username", this.field(p.username)], ["password", this.field(p.password)]] as const;
				if (p.form === "none") {
					for (const [name, value] of fields) {
						if (value === undefined) continue;
						const el = new Element(name);
						if (typeof value === "string") el.t(value);
						else el.cnode(value);
						query.cnode(el);
					}
				} else {
					const form = new Element("x", { xmlns: "jabber:x:data", type: p.form === "form" ? "submit" : "result" });
					query.cnode(form);
					if (p.form === "form") form.cnode(new Element("field", { var: "FORM_TYPE", type: "hidden" }).c("value").t(NS_REGISTER).root());
					for (const [name, value] of fields) {
						if (value === undefined) continue;
						const field = new Element("field", p.form === "form" ? { var: name } : {});
						const v = new Element("value");
						if (typeof value === "string") v.t(value);
						else v.cnode(value);
						field.cnode(v);
						form.cnode(field);
					}
					if (p.form === "bad-form") form.cnode(new Element("field", { var: "username", type: "list-multi" }).c("value").t("two").up().c("value").t("values").root());
				}
				for (const child of p.extra) query.cnode(this.extraChild(child));
				break;
			}
			case "register-get": {
				const query = new Element("query", { xmlns: NS_REGISTER });
				for (const child of p.extra) query.cnode(this.extraChild(child));
				iq.cnode(query);
				break;
			}
			case "empty":
				break;
			case "other":
				iq.cnode(this.extraChild(p.child));
				break;
		}
		return iq;
	}

	// -------------------------------------------------------------------------
	// IQs

	/**
	 * What an IQ may do, worked out before it is sent (as the action began),
	 * checked once it has been processed: the <preauth/> oracle, invariant 5,
	 * the registration form.
	 */
	private expectIq(stanza: Element, origin: ModelSession | undefined, route: "router" | "hook-preauth" | "hook-register" | "s2s", checks: (() => void)[], answers: () => Element[]): void {
		const type = stanza.attrs.type as string | undefined;
		const first = childElements(stanza)[0] as Element | undefined;
		const id = stanza.attrs.id as string | undefined;
		const answer = (types: string[]) => answers().find((s) => s.name === "iq" && s.attrs.id === id && types.includes(s.attrs.type as string));
		const base = this.before.writes;
		// The module's <preauth/> hook: fired by the router for unauthenticated streams (set
		// and get, addressed to the host), or directly.
		const reachesPreauth =
			route === "hook-preauth"
				? origin !== undefined && origin.kind !== "destroyed"
				: route === "router" && origin?.kind === "unauthed" && (type === "set" || type === "get") && first?.name === "preauth" && first.attrs.xmlns === NS_PARS &&
					(stanza.attrs.to === undefined || stanza.attrs.to === this.host) && stanza.attrs.from === undefined;
		if (reachesPreauth) {
			const token = first?.attrs.token as string | undefined;
			const wellFormed = token !== undefined && token !== "" && Buffer.byteLength(token) <= MAX_TOKEN_BYTES;
			const valid = wellFormed && this.acceptable(token);
			// A valid token is never refused as invalid; it may be refused for a while after too
			// many invalid ones (resource-constraint, without lookup).
			const mustAccept = (type === "set" || type === "get") && valid && !this.readFails("invite_token") && origin?.kind === "unauthed";
			checks.push(() => {
				const reply = answer(["result", "error"]);
				const accepted = reply?.attrs.type === "result";
				if (accepted && !valid) this.fail("preauth", `<preauth/> accepted what is not a stored, unexpired invite token: ${show(stanza)}`);
				if (mustAccept && !accepted && errorCondition(reply) !== "resource-constraint") this.fail("preauth", `<preauth/> refused a valid invite token ${this.describeToken(token)}: ${show(stanza)} → ${show(reply)}`);
				if (accepted && origin) {
					origin.validated = token;
					this.stats.preauthAccepted += 1;
				} else if (reply) {
					this.stats.preauthRefused += 1;
				}
				if (!valid) this.expectNoWrites(base, GUARDED_STORES, `<preauth/> with an invalid token ${show(token)}`);
			});
		}
		if (first?.name !== "query" || first.attrs.xmlns !== NS_REGISTER || (type !== "set" && type !== "get") || route === "hook-preauth") return;
		// A registration (set), or the registration form (get), with the invite the session presented.
		const token = origin?.validated;
		if (type === "set") {
			const inBurst = origin !== undefined && (this.burstTokens?.get(origin)?.length ?? 0) > 0;
			const usable = token !== undefined && this.before.records.has(token) && !(this.consumed.has(token) && !this.inviteByToken(token)?.reusable);
			if (!usable && !inBurst) checks.push(() => this.expectNoWrites(base, GUARDED_STORES, `a registration by ${origin?.label ?? "a remote server"} without a valid invite (${this.describeToken(token)})`));
		} else if (origin) {
			const bound = this.inviteByToken(token)?.bound;
			checks.push(() => {
				const query = answer(["result"])?.getChild("query", NS_REGISTER);
				const element = query?.getChildText("username");
				const field = query?.getChild("x", "jabber:x:data")?.getChildren("field").find((f) => f.attrs.var === "username")?.getChildText("value");
				for (const value of [element, field]) {
					if (value === undefined || value === null || value === "") continue;
					this.stats.formsPrefilled += 1;
					if (value !== bound) this.fail("form", `the registration form of ${origin.label} is filled with '${value}'; its invite ${this.describeToken(token)} is bound to ${show(bound)}`);
				}
			});
		}
	}

	private routerIq(origin: ModelSession, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
		const stanza = this.buildIq(shape, origin);
		this.note(`   ${origin.label} → ${show(stanza)}`);
		const answers: Element[] = [];
		this.expectIq(stanza, origin, "router", checks, () => answers);
		answers.push(...this.received(origin.label, this.sim.send(origin.ref, stanza)));
		sent.push({ stanza, origin, answers, countable: origin.kind !== "destroyed", label: origin.label });
	}

	private s2sIq(from: string, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
		const stanza = this.buildIq(shape, undefined, from);
		this.note(`   ${from} (s2s) → ${show(stanza)}`);
		const answers: Element[] = [];
		this.expectIq(stanza, undefined, "s2s", checks, () => answers);
		this.sim.receiveRemote(stanza);
		answers.push(...this.received("remote", this.sim.takeRemote()));
		sent.push({ stanza, answers, countable: true, label: `${from} (s2s)` });
	}

	/** Fires the hook's event directly: as a router configured otherwise, or another module, would. */
	private hookIq(event: "preauth" | "register", origin: ModelSession | undefined, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
		const stanza = this.buildIq(shape, origin);
		const name = event === "preauth" ? `stanza/iq/${NS_PARS}:preauth` : `stanza/iq/${NS_REGISTER}:query`;
		const ref: LuaRef = origin?.ref ?? this.sim.lua.runRef("local sim, from = ...; return FuzzDriver.s2s_origin(sim, from)", this.sim.sim, "remote.example");
		const label = origin?.label ?? "an s2s stream from remote.example";
		this.note(`   fire ${name} from ${label}: ${show(stanza)}`);
		const answers: Element[] = [];
		this.expectIq(stanza, origin, event === "preauth" ? "hook-preauth" : "hook-register", checks, () => answers);
		answers.push(...this.received(label, this.sim.call("local origin, name, plain = ...; return FuzzDriver.fire_stanza(sim, origin, name, plain)", ref, name, stanza) as Element[]));
		sent.push({ stanza, origin, answers, countable: origin?.kind !== "destroyed", label });
	}

	/** Several stanzas submitted at once, then processed together (interleaved when storage yields). */
	private burst(items: { session: number; iq: IqShape }[], yielding: boolean, sent: SentIq[], checks: (() => void)[]): void {
		const built = items.map((item, i) => {
			const origin = this.session(item.session);
			return { origin, stanza: this.buildIq({ ...item.iq, id: `burst${this.step}-${i}` }, origin), answers: [] as Element[] };
		});
		this.burstTokens = new Map();
		for (const { origin, stanza } of built) {
			const first = childElements(stanza)[0];
			if (first?.name === "preauth" && typeof first.attrs.token === "string") this.burstTokens.set(origin, [...(this.burstTokens.get(origin) ?? []), first.attrs.token]);
		}
		for (const b of built) this.expectIq(b.stanza, b.origin, "router", checks, () => b.answers);
		if (yielding && !this.yielding) this.sim.storage.setYielding(true);
		for (const { origin, stanza } of built) {
			this.note(`   ${origin.label} ⇒ ${show(stanza)}`);
			this.sim.submit(origin.ref, stanza);
		}
		this.sim.run();
		if (yielding && !this.yielding) this.sim.storage.setYielding(false);
		const raw = this.sim.call("return FuzzDriver.drain(sim, ...)", this.sessions.map((s) => s.ref)) as { sessions: { stanzas: Element[] }[]; remote: Element[] };
		const bySession = this.sessions.map((s, i) => this.received(s.label, raw.sessions[i]?.stanzas ?? []));
		this.received("remote", raw.remote);
		for (const b of built) {
			b.answers.push(...bySession[this.sessions.indexOf(b.origin)]);
			sent.push({ stanza: b.stanza, origin: b.origin, answers: b.answers, countable: b.origin.kind !== "destroyed", label: b.origin.label });
		}
	}

	/** Invariant 2. */
	private checkAnswered(iq: SentIq): void {
		if (!iq.countable) return;
		const { stanza } = iq;
		const type = stanza.attrs.type as string | undefined;
		const id = stanza.attrs.id as string | undefined;
		const answers = iq.answers.filter((s) => s.name === "iq" && s.attrs.id === id && (s.attrs.type === "result" || s.attrs.type === "error"));
		// The server closed the session meanwhile (too many invalid tokens): later answers are lost.
		if (iq.origin?.kind === "destroyed" && answers.length <= 1) return;
		if (type === "set" || type === "get") {
			// Or delivered to its addressee (another resource, another server), which answers.
			const forwards = this.seen.stanzas.filter((s) => s.name === "iq" && s.attrs.id === id && s.attrs.type === type);
			if (answers.length + forwards.length !== 1) {
				this.fail(2, `IQ ${type} from ${iq.label} answered ${answers.length} times, forwarded ${forwards.length}: ${show(stanza)} → ${answers.map(show).join(" ; ")}`);
			}
		} else if (type === "result" || type === "error") {
			// Prosody's router itself answers a c2s IQ without id (bad-request), whatever its type.
			if (id === undefined && iq.origin?.kind === "c2s") return;
			if (answers.length !== 0) this.fail(2, `IQ ${type} from ${iq.label} was answered: ${show(stanza)} → ${answers.map(show).join(" ; ")}`);
		} else if (answers.length > 1) {
			this.fail(2, `IQ of type ${show(type)} from ${iq.label} answered ${answers.length} times: ${show(stanza)}`);
		}
	}

	// -------------------------------------------------------------------------
	// Presence (XEP-0379)

	private presence(action: Extract<Action, { a: "presence" }>, checks: (() => void)[]): void {
		const accounts = this.accountList();
		const to = {
			account: `${accounts.length > 0 ? accounts[action.user % accounts.length] : "alice"}@${this.host}`,
			pool: `${USERNAMES[action.user % USERNAMES.length]}@${this.host}`,
			full: `alice@${this.host}/r1`,
			host: this.host,
			garbage: "@example.com",
		}[action.to];
		const attrs: Record<string, string> = { to };
		if (action.type !== null) attrs.type = action.type;
		const local = "local" in action.from ? this.session(action.from.local) : undefined;
		const remote = "remote" in action.from ? REMOTE_JIDS[action.from.remote] : undefined;
		if (remote !== undefined) attrs.from = remote;
		const presence = new Element("presence", attrs);
		for (const choice of action.tokens) {
			const token = this.tokenValue(choice);
			presence.cnode(new Element("preauth", token === undefined ? { xmlns: NS_PARS } : { xmlns: NS_PARS, token }));
		}
		for (const child of action.extra) presence.cnode(this.extraChild(child));

		const [node, domain, ...rest] = to.split("@");
		const user = nodeprep(node);
		const bareLocal = domain === this.host && rest.length === 0 && user !== undefined;
		const contact = local ? (local.kind === "c2s" ? `${local.user}@${this.host}` : undefined) : remote?.split("/")[0];
		const token = presence.getChild("preauth", NS_PARS)?.attrs.token as string | undefined;
		if (bareLocal && contact !== undefined) {
			const before = this.sim.rosterItem(user, contact);
			const expires = token === undefined ? undefined : this.before.contacts.get(`${user} ${token}`);
			// (The user it belongs to must exist: a contact invite of a name without account pre-approves nothing.)
			const valid =
				action.type === "subscribe" && expires !== undefined && this.before.now <= expires && !this.consumed.has(token!) && contact !== `${user}@${this.host}` && this.before.accounts.has(user) && !this.before.disabled.has(user);
			const base = this.before.writes;
			checks.push(() => {
				const after = this.sim.rosterItem(user, contact);
				// Approved now (not by a pre-approval the user gave earlier).
				if (!isSubscribed(before) && isSubscribed(after) && before?.approved === undefined) {
					if (!valid) this.fail(3, `${user} approved ${contact}'s subscription without a valid contact invite of theirs (token ${this.describeToken(token)})`);
					this.stats.approvals += 1;
					this.consumed.add(token!);
				}
				if (!valid) this.expectNoWrites(base, ["invite_token", "accounts"], `a subscription request with an invalid token ${this.describeToken(token)}`);
			});
		}
		if (local) {
			this.note(`   ${local.label} → ${show(presence)}`);
			this.received(local.label, this.sim.send(local.ref, presence));
		} else {
			this.note(`   ${remote} (s2s) → ${show(presence)}`);
			this.sim.receiveRemote(presence);
		}
	}

	// -------------------------------------------------------------------------
	// Events fired by other modules

	/**
	 * The validated_invite of an event. A made-up table may carry a real
	 * token where the module re-reads the invite from storage
	 * (user-registering); where it trusts the table instead (user-registered,
	 * user-password-reset: the invite was used), `noRealTokens` keeps real
	 * tokens to genuine invites, as any module that fires them has.
	 */
	private eventInvite(spec: EventInvite, noRealTokens: boolean): { lua: ToLua; token?: string } {
		switch (spec.kind) {
			case "none":
				return { lua: { kind: "none" } };
			case "genuine": {
				const invite = this.invite(spec.invite);
				return invite ? { lua: { kind: "genuine", token: invite.token }, token: invite.token } : { lua: { kind: "none" } };
			}
			case "table": {
				const choice = noRealTokens && spec.token.t === "real" && spec.token.mutate === "none" ? { ...spec.token, mutate: "suffix" as const } : spec.token;
				const token = this.tokenValue(choice);
				const fields: Record<string, ToLua> = { token, type: spec.type as ToLua, reusable: spec.reusable as ToLua, jid: spec.jid as ToLua, inviter: spec.inviter as ToLua, additional_data: spec.additional as ToLua };
				return { lua: { kind: "table", fields, with_use: spec.withUse }, token };
			}
			case "value":
				return { lua: { kind: "value", value: spec.value } };
		}
	}

	/** The invite the module sees on an event: validated_invite, or else the session's. */
	private presentedOn(spec: EventInvite, genuine: boolean, tableToken: string | undefined, session: ModelSession | undefined): { table: boolean; token?: string } {
		if (spec.kind === "value") return { table: false };
		if (spec.kind === "table") return { table: true, token: tableToken };
		if (spec.kind === "genuine" && genuine) return { table: true, token: tableToken };
		return { table: session?.validated !== undefined, token: session?.validated };
	}

	private eventSession(spec: EventSession): ModelSession | undefined {
		return spec.s === "session" ? this.session(spec.session) : undefined;
	}

	/** user-registering, as another module fires it: never left allowed without a valid invite for that username. */
	private registering(action: Extract<Action, { a: "registering" }>, checks: (() => void)[]): void {
		const session = this.eventSession(action.session);
		const invite = this.eventInvite(action.invite, false);
		const base = this.before.writes;
		const result = this.sim.call("local spec = ...; return FuzzDriver.registration_event(sim, 'user-registering', spec)", {
			username: action.username as ToLua,
			session: session?.ref,
			allowed: action.allowed ?? undefined,
			no_host: action.noHost,
			invite: invite.lua,
			ip: "127.0.0.1",
		}) as { allowed?: unknown; reason?: string; condition?: string; genuine: boolean };
		this.note(`   user-registering ${show(action.username)} (${session?.label ?? "no session"}) → allowed ${show(result.allowed)}${result.condition ? ` (${result.condition}: ${result.reason})` : ""}`);
		const presented = this.presentedOn(action.invite, result.genuine, invite.token, session);
		const legit =
			!presented.table ? { ok: false, why: "no invite table", invalidToken: true }
			: action.noHost ? { ok: false, why: "no host on the event", invalidToken: false }
			: this.legitimate(presented.token, typeof action.username === "string" ? action.username : undefined, "either");
		if (result.allowed) {
			this.stats.eventsAllowed += 1;
			if (!legit.ok) this.fail(3, `user-registering for ${show(action.username)} was left allowed (${legit.why})`);
		}
		if (legit.invalidToken) checks.push(() => this.expectNoWrites(base, GUARDED_STORES, `user-registering with an invalid invite (${legit.why})`));
	}

	/** user-registered / user-password-reset from another module: a genuine invite is used by it. */
	private registered(kind: "registered" | "password-reset", sessionSpec: EventSession, inviteSpec: EventInvite, username: unknown): void {
		const session = this.eventSession(sessionSpec);
		const invite = this.eventInvite(inviteSpec, true);
		const name = kind === "registered" ? "user-registered" : "user-password-reset";
		const result = this.sim.call("local name, spec = ...; return FuzzDriver.registration_event(sim, name, spec)", name, {
			username: username as ToLua,
			session: session?.ref,
			invite: invite.lua,
			source: "fuzz",
		}) as { genuine: boolean };
		this.note(`   ${name} ${show(username)} (${inviteSpec.kind}${result.genuine ? ", genuine" : ""}, ${session?.label ?? "no session"})`);
		// A genuine single-use invite (or the one the session presented) is used up by it.
		const presented = this.presentedOn(inviteSpec, result.genuine, invite.token, session);
		const genuine = inviteSpec.kind === "genuine" ? result.genuine : inviteSpec.kind === "none";
		if (genuine && presented.token !== undefined && !this.inviteByToken(presented.token)?.reusable) this.consumed.add(presented.token);
	}

	/** A web registration (mod_invites_register_web's steps, fuzz_driver.lua). */
	private web(inviteSpec: EventInvite, usernameIndex: number, checks: (() => void)[]): void {
		const names = webNames();
		const username = names[usernameIndex % names.length];
		const invite = this.eventInvite(inviteSpec, true);
		const base = this.before.writes;
		const result = this.sim.call("local spec = ...; return FuzzDriver.web_register(sim, spec)", { invite: invite.lua, username, password: `web-${this.step}` }) as {
			outcome?: string;
			allowed?: unknown;
			reason?: string;
			genuine: boolean;
		};
		this.note(`   web registration of ${username} with ${inviteSpec.kind} invite${result.genuine ? ` ${this.describeToken(invite.token)}` : ""} → ${result.outcome}${result.reason ? ` (${result.reason})` : ""}`);
		const token = inviteSpec.kind === "genuine" ? (result.genuine ? invite.token : undefined) : inviteSpec.kind === "table" ? invite.token : undefined;
		const presentedTable = inviteSpec.kind === "table" || (inviteSpec.kind === "genuine" && result.genuine);
		const legit = presentedTable ? this.legitimate(token, username, "either") : { ok: false, why: "no invite", invalidToken: true };
		if (result.outcome === "exists") this.fail(3, `a web registration of the existing account ${username} was allowed, not as a reset`);
		if (result.allowed && !legit.ok) this.fail(3, `a web registration of ${username} was allowed with ${inviteSpec.kind} invite (${legit.why})`);
		if (result.outcome === "registered") {
			this.webCreated = { username, token };
			this.stats.webRegistered += 1;
		}
		if (legit.invalidToken) checks.push(() => this.expectNoWrites(base, GUARDED_STORES, `a web registration with an invalid invite (${legit.why})`));
	}

	// -------------------------------------------------------------------------
	// Stream features

	private features(origin: ModelSession | undefined): void {
		const ref: LuaRef = origin?.ref ?? this.sim.lua.runRef("local sim, from = ...; return FuzzDriver.s2s_origin(sim, from)", this.sim.sim, "remote.example");
		const offered = this.sim.call("return FuzzDriver.features(sim, ...)", ref) as string[];
		const invite = offered.includes("urn:xmpp:ibr-token:0");
		const expected = origin?.kind === "unauthed" && origin.secure;
		this.note(`   features for ${origin?.label ?? "an s2s stream"}: ${offered.join(" ") || "none"}`);
		if (invite !== expected) this.fail("features", `invite registration ${invite ? "offered" : "not offered"} to ${origin?.label ?? "an s2s stream"}`);
	}

	// -------------------------------------------------------------------------
	// Invariants checked after every action

	/**
	 * Invariants 3 and 4: every account created and every password reset —
	 * each user-registered and user-password-reset that in-band registration
	 * fired, and the web registration's account — is accounted for by a valid
	 * invite of the session (or web registration) that did it, a single-use
	 * invite only once; and no account appears, changes password or
	 * disappears without such an event.
	 */
	private checkAccounts(action: Action, after: Snapshot): void {
		const created = [...after.accounts.keys()].filter((u) => !this.before.accounts.has(u));
		const changed = [...after.accounts.keys()].filter((u) => this.before.accounts.has(u) && this.before.accounts.get(u) !== after.accounts.get(u));
		const removed = [...this.before.accounts.keys()].filter((u) => !after.accounts.has(u));
		// Only the admin deletes accounts (the "account" action).
		if (removed.length > 0 && !(action.a === "account" && action.how.startsWith("delete"))) this.fail(3, `account(s) ${removed.join(", ")} disappeared`);
		const accounted = new Set<string>();
		for (const event of this.observed) {
			if (event.source === "fuzz") continue; // fired by the fuzzer itself ("registered" actions): nothing was created
			const username = event.username ?? "";
			const isReset = event.kind === "reset";
			if (!isReset && !created.includes(username)) continue; // mod_register_ibr removed it again (account details not stored)
			accounted.add(username);
			const origin = event.session !== undefined ? this.sessions[event.session - 1] : undefined;
			const candidates = new Set<string | undefined>();
			if (event.source === "mod_invites_register_web") {
				if (this.webCreated?.username === username) candidates.add(this.webCreated.token);
			} else if (origin) {
				candidates.add(origin.validated);
				for (const t of this.burstTokens?.get(origin) ?? []) candidates.add(t);
			}
			if (candidates.size === 0) candidates.add(undefined);
			const verdicts = [...candidates].map((token) => ({ token, ...this.legitimate(token, username, isReset ? "reset" : "create") }));
			const ok = verdicts.find((v) => v.ok);
			if (!ok) {
				const used = verdicts.some((v) => v.used);
				const who = origin?.label ?? event.source ?? "no session";
				this.fail(used ? 4 : 3, `${isReset ? "the password of" : "account"} ${username} ${isReset ? "was reset" : "was created"} by ${who} (${action.a}) without a valid invite: ${verdicts.map((v) => `${this.describeToken(v.token)}: ${v.why}`).join("; ")}`);
			}
			if (isReset) this.stats.resets += 1;
			else this.stats.accountsCreated += 1;
			if (ok.token !== undefined && !this.inviteByToken(ok.token)?.reusable) this.consumed.add(ok.token);
		}
		for (const username of [...created, ...changed]) {
			if (!accounted.has(username)) this.fail(3, `account ${username} ${created.includes(username) ? "was created" : "changed password"} (${action.a}) with no registration event`);
		}
	}

	// -------------------------------------------------------------------------

	private note(line: string): void {
		this.transcript.push(line);
	}

	private fail(invariant: number | string, message: string): never {
		throw new FuzzViolation(`[invariant ${invariant}] ${message}`);
	}

	private withTranscript(message: string): FuzzViolation {
		return new FuzzViolation(`Prosody ${this.version}: ${message}\n--- transcript (last 80 lines) ---\n${this.transcript.slice(-80).join("\n")}`);
	}
}
