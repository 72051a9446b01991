import { Element } from "ltx";
import { ProsodySim, type Session } from "../../harness/sim/prosody_sim.js";
import { type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { USERNAMES, type InviteKind, type Store } from "./fuzz_actions.js";
import { RegistrationRules, type Verdict } from "./fuzz_rules.js";

import {
	FuzzViolation,
	BOUND_NAMES,
	ModelSession,
	ModelInvite,
	Snapshot,
	RawSnapshot,
	toSnapshot,
	Observed,
	Seen,
	FuzzStats,
	normalise,
	show,
} from "./fuzz_model.js";

/**
 * The fuzzer's world, first layer: its state (the model's sessions and
 * invites, what was seen), the sessions, invites and storage faults it
 * makes, and what it reads back from the simulator. The layers above add
 * the stanza builders (fuzz_world_stanzas.ts), the actions
 * (fuzz_world_actions.ts), and the driving and invariants (fuzz_world.ts).
 */
export abstract class FuzzWorldBase {
	readonly sim: ProsodySim;
	readonly host: string;
	protected readonly sessions: ModelSession[] = [];
	protected readonly invites: ModelInvite[] = [];
	/** Single-use tokens already used (account, reset, subscription). */
	protected readonly consumed = new Set<string>();
	/** Tokens clients presented, checked in the logs too (long enough not to occur by chance). */
	protected readonly presented = new Set<string>();
	/** Everything done and seen, for the report of a violation (and FUZZ_VERBOSE). */
	readonly transcript: string[] = [];
	protected readonly failing = new Map<Store, { how: "error" | "raise"; op: "get" | "set" | null; until: number }>();
	protected logIndex = 1;
	protected step = 0;
	protected resources = 0;
	protected before!: Snapshot;
	/** The state once the action is over (while its checks run). */
	protected after: Snapshot | undefined;
	/** Accounts created and passwords reset during the action, as their events told. */
	protected observed: Observed[] = [];
	protected seen: Seen = { stanzas: [] };
	/** The tokens sessions present within a burst (a registration there may use either). */
	protected burstTokens: Map<ModelSession, string[]> | undefined;
	protected webCreated: { username: string; token: string | undefined } | undefined;

	constructor(
		readonly version: ProsodyVersion,
		protected readonly stats: FuzzStats,
		/** Storage yields on every call for the whole run. */
		protected readonly yielding: boolean,
	) {
		this.sim = ProsodySim.create({ version });
		this.host = this.sim.host;
	}

	// -------------------------------------------------------------------------
	// Sessions, invites, storage

	protected accountList(): string[] {
		return [...this.snapshotAccounts().keys()].sort();
	}

	protected snapshotAccounts(): Map<string, string> {
		return this.before?.accounts ?? new Map();
	}

	protected addSession(ref: Session, kind: ModelSession["kind"], secure: boolean, user?: string, full?: string, ip?: string): ModelSession {
		const label = `s${this.sessions.length}:${kind}${kind === "unauthed" ? (secure ? "/tls" : "/plain") : ""}${user ? `:${user}` : ""}${ip ? `@${ip}` : ""}`;
		const session: ModelSession = { ref, kind, secure, user, full, label };
		this.sessions.push(session);
		return session;
	}

	protected connect(secure: boolean, ip: string): void {
		const ref = this.sim.connect({ secure });
		this.sim.call("local s, ip = ...; s.ip = ip", ref, ip);
		this.addSession(ref, "unauthed", secure, undefined, undefined, ip);
	}

	protected login(user: string): void {
		const resource = `r${++this.resources}`;
		const ref = this.tolerate(() => this.sim.login(user, resource, { available: true }), `login ${user}`);
		if (ref) this.addSession(ref, "c2s", true, user, `${user}@${this.host}/${resource}`);
	}

	protected closeSession(session: ModelSession): void {
		this.tolerate(() => this.sim.close(session.ref), `close ${session.label}`);
		session.kind = "destroyed";
		session.validated = undefined; // the session table is retired: nothing is left on it
		session.label = session.label.replace(/:(unauthed\/\w+|c2s)/, ":destroyed");
	}

	/** A session the server closed (too many invalid tokens): retired in the model too. */
	protected closedByServer(session: ModelSession): void {
		if (session.kind === "destroyed") return;
		this.note(`   ${session.label} closed by the server`);
		session.kind = "destroyed";
		session.validated = undefined;
		session.label = session.label.replace(/:(unauthed\/\w+|c2s)/, ":destroyed");
	}

	protected session(n: number): ModelSession {
		return this.sessions[n % this.sessions.length];
	}

	protected invite(n: number): ModelInvite | undefined {
		return this.invites.length === 0 ? undefined : this.invites[n % this.invites.length];
	}

	protected inviteByToken(token: string | undefined): ModelInvite | undefined {
		return token === undefined ? undefined : this.invites.find((i) => i.token === token);
	}

	protected describeToken(token: string | undefined): string {
		if (token === undefined) return "none";
		const i = this.invites.findIndex((inv) => inv.token === token);
		return i < 0 ? `${show(token)} (no invite)` : `i${i} (${this.invites[i].kind}${this.consumed.has(token) ? ", used" : ""})`;
	}

	/** Harness steps that storage failures may make impossible (making an invite, logging in). */
	protected tolerate<T>(f: () => T, what: string): T | undefined {
		try {
			return f();
		} catch (err) {
			if (this.failing.size === 0) throw err;
			this.note(`   (${what} failed under a storage failure: ${String((err as Error).message).split("\n")[0]})`);
			return undefined;
		}
	}

	protected setFailure(store: Store, how: "error" | "raise" | null, op: "get" | "set" | null, actions: number): void {
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
	protected healStorage(): void {
		for (const [store, failure] of this.failing) {
			if (failure.until > this.step) continue;
			this.failing.delete(store);
			this.sim.storage.fail(store, undefined);
			this.note(`   storage ${store} healed`);
		}
	}

	protected readFails(store: Store): boolean {
		const f = this.failing.get(store);
		return f !== undefined && (f.op === null || f.op === "get");
	}

	protected createInvite(kind: InviteKind, nameIndex: number, ttl: number | null, inviterIndex: number): void {
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

	protected snapshot(): Snapshot {
		return toSnapshot(this.sim.call("return FuzzDriver.snapshot(sim)") as RawSnapshot);
	}

	/** The model of the module's rules (fuzz_rules.ts), over the world as the action began. */
	protected get rules(): RegistrationRules {
		return new RegistrationRules({ invites: this.invites, consumed: this.consumed, before: this.before, describe: (token) => this.describeToken(token) });
	}

	protected acceptable(token: string): boolean {
		return this.rules.acceptable(token);
	}

	protected legitimate(token: string | undefined, username: string | undefined, what: "create" | "reset" | "either"): Verdict {
		return this.rules.legitimate(token, username, what);
	}

	protected received(where: string, stanzas: Element[]): Element[] {
		for (const s of stanzas) {
			this.note(`   ${where} ← ${show(s)}`);
			this.seen.stanzas.push(s);
		}
		return stanzas;
	}

	/** Writes counted so far: after the action when it is over. */
	protected writesNow(): Record<string, number> {
		return this.after?.writes ?? (this.sim.call("return FuzzDriver.writes(sim)") as Record<string, number>);
	}

	/**
	 * Invariant 5: nothing written to `stores` from `base` (the counts as the
	 * action began: each action sends one stanza or fires one event) to now.
	 */
	protected expectNoWrites(base: Record<string, number>, stores: readonly string[], what: string): void {
		if (this.burstTokens !== undefined) return; // a burst mixes valid and invalid attempts
		const now = this.writesNow();
		const written = stores.filter((s) => (now[s] ?? 0) > (base[s] ?? 0));
		if (written.length > 0) this.fail(5, `${what} wrote to ${written.map((s) => `${s} (${(now[s] ?? 0) - (base[s] ?? 0)}×)`).join(", ")}`);
	}


	// -------------------------------------------------------------------------

	protected note(line: string): void {
		this.transcript.push(line);
	}

	protected fail(invariant: number | string, message: string): never {
		throw new FuzzViolation(`[invariant ${invariant}] ${message}`);
	}

	protected withTranscript(message: string): FuzzViolation {
		return new FuzzViolation(`Prosody ${this.version}: ${message}\n--- transcript (last 80 lines) ---\n${this.transcript.slice(-80).join("\n")}`);
	}
}
