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
import type { ToLua } from "../../harness/sim/lua_state.js";
import { repoRoot, type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import {
	CLIENT_ADDRESSES,
	INITIAL_ACCOUNTS,
	REMOTE_JIDS,
	USERNAMES,
	type Action,
	type FieldChoice,
	type IqShape,
	type Scenario,
	type TokenChoice,
} from "./fuzz_actions.js";

import {
	FuzzViolation,
	RACE_NAMES,
	NS_PARS,
	Snapshot,
	RawSnapshot,
	toSnapshot,
	Observed,
	SentIq,
	FuzzStats,
	emptyStats,
	normalise,
	webNames,
	show,
} from "./fuzz_model.js";
import { FuzzWorldActions } from "./fuzz_world_actions.js";

export { emptyStats, FuzzViolation, type FuzzStats } from "./fuzz_model.js";

/** The fuzzer's world, top layer: a run, the driving of each action, and the invariants checked after it. */
export class FuzzWorld extends FuzzWorldActions {
	constructor(
		version: ProsodyVersion,
		stats: FuzzStats = emptyStats(),
		options: { yielding?: boolean } = {},
	) {
		super(version, stats, options.yielding ?? false);
		this.sim.call("FuzzDriver = FuzzDriver or dofile(...); FuzzDriver.observe(sim)", path.join(repoRoot, "spec/support/fuzz_driver.lua"));
		for (const name of INITIAL_ACCOUNTS) this.sim.createUser(name, `initial-${name}`);
		this.addSession(this.sim.connect(), "unauthed", true);
		this.addSession(this.sim.connect({ secure: false }), "unauthed", false);
		this.login("alice");
		this.closeSession(this.addSession(this.sim.connect(), "unauthed", true));
		this.sim.call("FuzzDriver.drain(sim, ...)", this.sessions.map((s) => s.ref));
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
	protected afterAction(): Snapshot {
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

	protected perform(action: Action, sent: SentIq[], checks: (() => void)[]): void {
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
	protected expandFlow(action: Extract<Action, { a: "flow" }>): (() => Action)[] {
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
	protected expandRace(action: Extract<Action, { a: "race" }>): (() => Action)[] {
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
	protected expandWebFlow(action: Extract<Action, { a: "web-flow" }>): (() => Action)[] {
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
	protected expandContactFlow(action: Extract<Action, { a: "contact-flow" }>): (() => Action)[] {
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
	// Invariants checked after every action

	/**
	 * Invariants 3 and 4: every account created and every password reset —
	 * each user-registered and user-password-reset that in-band registration
	 * fired, and the web registration's account — is accounted for by a valid
	 * invite of the session (or web registration) that did it, a single-use
	 * invite only once; and no account appears, changes password or
	 * disappears without such an event.
	 */
	protected checkAccounts(action: Action, after: Snapshot): void {
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

}
