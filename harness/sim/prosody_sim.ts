/**
 * A simulated Prosody host in fengari, for unit tests: the Lua simulator in
 * harness/sim/prosody_sim/ (Prosody's own code, with storage, sessions and
 * C modules simulated), driven from TypeScript.
 *
 *   const sim = ProsodySim.create({ version: "0.12" });
 *   const invite = sim.invites.createAccount();
 *   const client = sim.connect();
 *   sim.preauth(client, invite.token); // <iq type='result'/>
 */
import path from "node:path";
import { Element, parse } from "ltx";
import { LuaRef, LuaState, type ToLua } from "./lua_state.js";
import { builtModuleDir, prosodyRelease, prosodySource, repoRoot, type ProsodyVersion } from "../server/prosody_sources.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export interface LogEntry {
	source: string;
	level: LogLevel;
	message: string;
}

/** An invite as mod_invites returns it (see src/types/mod_invites.d.ts). */
export interface Invite {
	type: "register" | "roster";
	jid: string;
	token: string;
	uri: string;
	expires: number;
	reusable?: boolean;
	additional_data?: Record<string, unknown>;
}

export interface RosterItem {
	subscription: "none" | "to" | "from" | "both";
	ask?: "subscribe";
	approved?: string;
}

export interface SimOptions {
	version: ProsodyVersion;
	/** "built": dist-lua/mod_invites_register.lua; "stock": Prosody's own module. */
	module?: "built" | "stock";
	/** Options for the virtual host. */
	config?: { [option: string]: ToLua };
	/** Modules loaded on the host (default: presence, invites_register). */
	modules?: string[];
	/** prosody.process_type (default "prosody"; "prosodyctl" as under prosodyctl). */
	processType?: string;
}

/** A client connection (a session table inside Lua). */
export type Session = LuaRef;

type StanzaInput = Element | string;

function toElement(stanza: StanzaInput): Element {
	return typeof stanza === "string" ? parse(stanza) : stanza;
}

export class ProsodySim {
	readonly host: string;
	/** Tokens of every invite created through `invites` (secrets: never logged). */
	readonly tokens: string[] = [];

	private constructor(
		readonly lua: LuaState,
		readonly sim: LuaRef,
		readonly version: ProsodyVersion,
	) {
		this.host = this.call("return sim.host") as string;
	}

	static create(options: SimOptions): ProsodySim {
		const state = new LuaState([path.join(repoRoot, "harness/sim/?.lua"), path.join(repoRoot, "harness/sim/?/init.lua")]);
		state.run("Sim = require 'prosody_sim'; bridge = require 'prosody_sim.bridge'");
		const sim = state.runRef(
			"local opts = ...; return Sim.new(opts)",
			{
				source: prosodySource(options.version),
				version: options.version,
				release: prosodyRelease(options.version),
				plugin_paths: options.module === "stock" ? [] : [builtModuleDir],
				config: options.config ?? {},
				modules: options.modules,
				process_type: options.processType,
				// Our module may not touch globals beyond module, prosody and Lua's library.
				strict_globals: options.module === "stock" ? [] : ["invites_register"],
			},
		);
		return new ProsodySim(state, sim, options.version);
	}

	/** Runs Lua with `sim` in scope and `...` = args; stanzas come back as elements. */
	call(code: string, ...args: ToLua[]): unknown {
		return this.lua.run(`local sim = ...; return bridge.export(sim, (function (...) ${code} end)(select(2, ...)))`, this.sim, ...args);
	}

	private callRef(code: string, ...args: ToLua[]): LuaRef {
		return this.lua.runRef(`local sim = ...; return (function (...) ${code} end)(select(2, ...))`, this.sim, ...args);
	}

	/** mod_invites' API on this host. */
	private created(invite: Invite): Invite {
		this.tokens.push(invite.token);
		return invite;
	}

	/** mod_invites' API on this host. */
	readonly invites = {
		createAccount: (username?: string, data?: { [key: string]: ToLua }, ttl?: number): Invite =>
			this.created(this.call(`return (assert(sim:module("invites").create_account(...)))`, username, data, ttl) as Invite),
		createReset: (username: string, ttl?: number): Invite =>
			this.created(this.call(`return (assert(sim:module("invites").create_account_reset(...)))`, username, ttl) as Invite),
		createContact: (username: string, allowRegistration?: boolean, data?: { [key: string]: ToLua }, ttl?: number): Invite =>
			this.created(this.call(`return (assert(sim:module("invites").create_contact(...)))`, username, allowRegistration, data, ttl) as Invite),
		createGroup: (groups: string[], data?: { [key: string]: ToLua }, ttl?: number): Invite =>
			this.created(this.call(`return (assert(sim:module("invites").create_group(...)))`, groups, data, ttl) as Invite),
		delete: (token: string): void => {
			this.call(`sim:module("invites").delete_account_invite(...)`, token);
		},
		/**
		 * An account invite for `username` (none: any) written to storage by another
		 * process (prosodyctl, another server sharing the database): no
		 * invite-created event reaches this server.
		 */
		createElsewhere: (username: string | undefined, ttl = 3600): Invite =>
			this.created(this.call("return sim:create_elsewhere(...)", username, ttl) as Invite),
		/** Whether the invite can still be used for registration. */
		isValid: (token: string): boolean => this.call(`return sim:module("invites").get(...) ~= nil`, token) as boolean,
	};

	/** A client connection that has not signed in (secure: TLS, default true; ip default 127.0.0.1). */
	connect(options: { secure?: boolean; ip?: string } = {}): Session {
		return this.callRef("return sim:connect(...)", options);
	}

	login(username: string, resource = "res", options: { available?: boolean; interested?: boolean } = {}): Session {
		return this.callRef("return sim:login(...)", username, resource, options);
	}

	close(session: Session): void {
		this.call("sim:close(...)", session);
	}

	/** A field of a session table (e.g. "validated_invite", "type"). */
	sessionField(session: Session, field: string): unknown {
		return this.call("local s, f = ...; return s[f]", session, field);
	}

	features(session: Session): Element {
		return this.call("return sim:features(...)", session) as Element;
	}

	/** Processes a stanza from the session to the end; returns what the session received. */
	send(session: Session, stanza: StanzaInput): Element[] {
		return this.call("local s, plain = ...; return sim:send(s, bridge.stanza(sim, plain))", session, toElement(stanza)) as Element[];
	}

	/** Starts processing without waiting (see storageYields). */
	submit(session: Session, stanza: StanzaInput): void {
		this.call("local s, plain = ...; sim:submit(s, bridge.stanza(sim, plain))", session, toElement(stanza));
	}

	/** Lets waiting stanza processing continue until nothing waits. */
	run(): void {
		this.call("sim:run()");
	}

	/** Stanzas the session received since the last take. */
	take(session: Session): Element[] {
		return this.call("return sim:take(...)", session) as Element[];
	}

	preauth(session: Session, token: string): Element {
		return this.call("return sim:preauth(...)", session, token) as Element;
	}

	register(session: Session, username: string, password = "secret"): Element {
		return this.call("return sim:register(...)", session, username, password) as Element;
	}

	/** A <preauth/> IQ; `to`: the address it is sent to (the domain, as some clients do). */
	preauthIq(token: string | undefined, type = "set", to?: string): Element {
		return this.call("return sim:preauth_iq(...)", token, type, to) as Element;
	}

	registerIq(username: string, password = "secret"): Element {
		return this.call("return sim:register_iq(...)", username, password) as Element;
	}

	/** The In-Band Registration form the session gets (`<iq type='get'><query xmlns='jabber:iq:register'/></iq>`). */
	registrationForm(session: Session): Element {
		return this.call("return sim:registration_form(...)", session) as Element;
	}

	/**
	 * Registers as mod_invites_register_web does, without a session: the
	 * token checked with mod_invites' get(), then user-registering with
	 * `validated_invite` (no token: as a web registration form without invite).
	 */
	webRegister(token: string | undefined, username: string): { outcome: "registered" | "refused" | "invalid-invite"; reason?: string; error?: { type: string; condition: string; text?: string } } {
		return this.call("return sim:web_register(...)", token, username) as { outcome: "registered" | "refused" | "invalid-invite"; reason?: string; error?: { type: string; condition: string; text?: string } };
	}

	/** A stanza from another server (s2s). */
	/**
	 * A stanza from another server, on a new s2sin connection unless told
	 * otherwise: `type` "s2sout" for 13's bidirectional streams; the same
	 * `connection` name sends over one connection again.
	 */
	receiveRemote(stanza: StanzaInput, options: { type?: "s2sin" | "s2sout"; connection?: string } = {}): void {
		this.call("local plain, opts = ...; sim:receive_remote(bridge.stanza(sim, plain), opts)", toElement(stanza), options);
	}

	/** Stanzas routed to other servers since the last call. */
	takeRemote(): Element[] {
		return this.call("return sim:take_remote()") as Element[];
	}

	createUser(username: string, password = "secret"): void {
		this.call("assert(sim:create_user(...))", username, password);
	}

	/** Deletes an account as the admin shell's user:delete does (usermanager.delete_user: user-deleted, then its data purged). */
	deleteUser(username: string): void {
		this.call("assert(sim.usermanager.delete_user(select(1, ...), sim.host))", username);
	}

	/** 13: disables an account as the admin shell's user:disable does (usermanager.disable_user: user-disabled). */
	disableUser(username: string): void {
		this.call("assert(sim.usermanager.disable_user(select(1, ...), sim.host))", username);
	}

	/** 13: enables a disabled account again. */
	enableUser(username: string): void {
		this.call("assert(sim.usermanager.enable_user(select(1, ...), sim.host))", username);
	}

	/** Deletes an account's data the way another process does (0.12's prosodyctl deluser): no event reaches this server. */
	deleteUserElsewhere(username: string): void {
		this.call("local username = ...; assert(sim.storage.open(sim.host, 'accounts'):set(username, nil)); sim.storage.purge(username, sim.host)", username);
	}

	userExists(username: string): boolean {
		return this.call("return sim:user_exists(...)", username) as boolean;
	}

	testPassword(username: string, password: string): boolean {
		return this.call("return sim.usermanager.test_password(select(1, ...), sim.host, select(2, ...)) and true or false", username, password) as boolean;
	}

	/**
	 * A user's roles: on 13 the primary role and secondary roles
	 * (usermanager's role API), on 0.12 the role set (get_roles).
	 */
	rolesOf(username: string): { primary?: string; secondary?: string[]; set?: string[] } {
		return this.call("return sim:roles_of(...)", username) as { primary?: string; secondary?: string[]; set?: string[] };
	}

	rosterItem(username: string, jid: string): RosterItem | undefined {
		return this.call("return sim:roster_item(...)", username, jid) as RosterItem | undefined;
	}

	pendingIn(username: string, jid: string): boolean {
		return this.call("return sim:pending_in(...)", username, jid) as boolean;
	}

	/** How many storage calls have been made so far (every store, every operation). */
	storageCalls(): number {
		return this.call("return sim.storage.calls") as number;
	}

	/**
	 * How many times a whole host-wide store was read so far (keyval get of
	 * the host's data, map get_all): for "invite_token", a read of every
	 * pending invite.
	 */
	wholeReads(store: string): number {
		return (this.call("return sim.storage.whole_reads[...]", store) as number | undefined) ?? 0;
	}

	/**
	 * How many host-wide map reads of one key were made on a store (map
	 * get(nil, key)): with file storage each loads the host's whole store,
	 * for "invite_token" every pending invite.
	 */
	hostReads(store: string): number {
		return (this.call("return sim.storage.host_reads[...]", store) as number | undefined) ?? 0;
	}

	/** Raw stored data (e.g. store "roles", user "alice"). */
	stored(store: string, user?: string): unknown {
		return this.call("local store, user = ...; return sim.storage:peek(sim.host, store, user)", store, user);
	}

	/** Time as mod_invites sees it (os.time()). */
	advance(seconds: number): void {
		this.call("sim:advance(...)", seconds);
	}

	/** What the simulated mod_storage_sql's connection has answered (storage = "sql"): pages of keys, keys listed, rows read with their values. */
	sqlReads(): { pages: number; rows: number; records: number } {
		return this.call("local e = sim.storage.sql_engine; return { pages = e and e.pages or 0, rows = e and e.rows or 0, records = e and e.records or 0 }") as {
			pages: number;
			rows: number;
			records: number;
		};
	}

	readonly storage = {
		/** Every storage call first yields, letting other sessions run (as slow storage would). */
		setYielding: (yielding: boolean): void => {
			this.call("sim.storage.yielding = ...", yielding);
		},
		/**
		 * Calls on `store` (only operation `op`, e.g. "set", when given) fail:
		 * "error" returns nil, err as drivers do; "raise" raises a Lua error;
		 * undefined heals.
		 */
		fail: (store: string, how: "error" | "raise" | undefined, op?: "get" | "set" | "set_keys"): void => {
			this.call("sim.storage:fail(...)", store, how, op);
		},
	};

	logs(minLevel: LogLevel = "debug"): LogEntry[] {
		return this.call("return sim:log_entries(...)", minLevel) as LogEntry[];
	}

	/** Lua errors that escaped a hook (mod_c2s would log a traceback). */
	errors(): string[] {
		return this.call("return sim.errors") as string[];
	}
}
