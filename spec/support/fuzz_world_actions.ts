import { Element } from "ltx";
import type { LuaRef, ToLua } from "../../harness/sim/lua_state.js";
import { REMOTE_JIDS, USERNAMES, type Action, type EventInvite, type EventSession, type IqShape } from "./fuzz_actions.js";

import {
	MAX_TOKEN_BYTES,
	NS_PARS,
	NS_REGISTER,
	GUARDED_STORES,
	ModelSession,
	SentIq,
	nodeprep,
	errorCondition,
	webNames,
	childElements,
	show,
	isSubscribed,
} from "./fuzz_model.js";
import { FuzzWorldStanzas } from "./fuzz_world_stanzas.js";

/**
 * The fuzzer's world, third layer: the actions, each sent and its answers
 * checked against the model: IQs, XEP-0379 presence, events fired by other
 * modules, stream features.
 */
export abstract class FuzzWorldActions extends FuzzWorldStanzas {
	// -------------------------------------------------------------------------
	// IQs

	/**
	 * What an IQ may do, worked out before it is sent (as the action began),
	 * checked once it has been processed: the <preauth/> oracle, invariant 5,
	 * the registration form.
	 */
	protected expectIq(stanza: Element, origin: ModelSession | undefined, route: "router" | "hook-preauth" | "hook-register" | "s2s", checks: (() => void)[], answers: () => Element[]): void {
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

	protected routerIq(origin: ModelSession, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
		const stanza = this.buildIq(shape, origin);
		this.note(`   ${origin.label} → ${show(stanza)}`);
		const answers: Element[] = [];
		this.expectIq(stanza, origin, "router", checks, () => answers);
		answers.push(...this.received(origin.label, this.sim.send(origin.ref, stanza)));
		sent.push({ stanza, origin, answers, countable: origin.kind !== "destroyed", label: origin.label });
	}

	protected s2sIq(from: string, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
		const stanza = this.buildIq(shape, undefined, from);
		this.note(`   ${from} (s2s) → ${show(stanza)}`);
		const answers: Element[] = [];
		this.expectIq(stanza, undefined, "s2s", checks, () => answers);
		this.sim.receiveRemote(stanza);
		answers.push(...this.received("remote", this.sim.takeRemote()));
		sent.push({ stanza, answers, countable: true, label: `${from} (s2s)` });
	}

	/** Fires the hook's event directly: as a router configured otherwise, or another module, would. */
	protected hookIq(event: "preauth" | "register", origin: ModelSession | undefined, shape: IqShape, sent: SentIq[], checks: (() => void)[]): void {
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
	protected burst(items: { session: number; iq: IqShape }[], yielding: boolean, sent: SentIq[], checks: (() => void)[]): void {
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
	protected checkAnswered(iq: SentIq): void {
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

	protected presence(action: Extract<Action, { a: "presence" }>, checks: (() => void)[]): void {
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
	protected eventInvite(spec: EventInvite, noRealTokens: boolean): { lua: ToLua; token?: string } {
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
	protected presentedOn(spec: EventInvite, genuine: boolean, tableToken: string | undefined, session: ModelSession | undefined): { table: boolean; token?: string } {
		if (spec.kind === "value") return { table: false };
		if (spec.kind === "table") return { table: true, token: tableToken };
		if (spec.kind === "genuine" && genuine) return { table: true, token: tableToken };
		return { table: session?.validated !== undefined, token: session?.validated };
	}

	protected eventSession(spec: EventSession): ModelSession | undefined {
		return spec.s === "session" ? this.session(spec.session) : undefined;
	}

	/** user-registering, as another module fires it: never left allowed without a valid invite for that username. */
	protected registering(action: Extract<Action, { a: "registering" }>, checks: (() => void)[]): void {
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
	protected registered(kind: "registered" | "password-reset", sessionSpec: EventSession, inviteSpec: EventInvite, username: unknown): void {
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
	protected web(inviteSpec: EventInvite, usernameIndex: number, checks: (() => void)[]): void {
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

	protected features(origin: ModelSession | undefined): void {
		const ref: LuaRef = origin?.ref ?? this.sim.lua.runRef("local sim, from = ...; return FuzzDriver.s2s_origin(sim, from)", this.sim.sim, "remote.example");
		const offered = this.sim.call("return FuzzDriver.features(sim, ...)", ref) as string[];
		const invite = offered.includes("urn:xmpp:ibr-token:0");
		const expected = origin?.kind === "unauthed" && origin.secure;
		this.note(`   features for ${origin?.label ?? "an s2s stream"}: ${offered.join(" ") || "none"}`);
		if (invite !== expected) this.fail("features", `invite registration ${invite ? "offered" : "not offered"} to ${origin?.label ?? "an s2s stream"}`);
	}

}
