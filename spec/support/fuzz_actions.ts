/**
 * What the fuzz test (spec/unit/fuzz.test.ts) throws at the module: plain
 * data describing actions — stanzas from every kind of session, events
 * fired as other modules fire them, invites made and revoked, time, storage
 * failures — and the fast-check arbitraries that generate them.
 *
 * Actions refer to sessions and invites by number; spec/support/fuzz_world.ts
 * resolves a number modulo the sessions or invites that exist when the
 * action runs, so that a shrunk sequence still means something.
 */
import fc from "fast-check";

/** Usernames as clients send them: valid, differently cased, invalid for nodeprep, empty. */
export const USERNAMES = ["alice", "bob", "carol", "dave", "Eve", "mallory", "ALICE", "Carol", "a b", "ø", "x@y", ""] as const;
/** Accounts that exist when a run starts. */
export const INITIAL_ACCOUNTS = ["alice", "bob"] as const;
/** Where clients connect from: a few, so that the per-address limits on invalid tokens are reached too. */
export const CLIENT_ADDRESSES = ["127.0.0.1", "198.51.100.7", "2001:db8::1", "203.0.113.9"] as const;
export const REMOTE_JIDS = ["bob@remote.example", "eve@evil.example", "remote.example", "mallory@evil.example/phone"] as const;

/** A token as a client presents it. */
export type TokenChoice =
	| { t: "real"; invite: number; mutate: "none" | "upper" | "suffix" | "prefix" | "truncate" | "pad" }
	| { t: "fake"; value: string }
	| { t: "unicode"; value: string }
	| { t: "long"; length: number }
	| { t: "empty" }
	| { t: "missing" };

export type IqType = "set" | "get" | "result" | "error" | "garbage" | "missing";

/** Where a stanza is addressed; resolved against the world (`local` = a local account, `full` = an online resource). */
export type ToChoice = "none" | "host" | "host-resource" | "local-bare" | "local-full" | "own-bare" | "remote" | "garbage" | "empty";
export type FromChoice = "none" | "valid" | "garbage";

/** Children that are not what the hook looks for. */
export type ExtraChild = { name: string; xmlns?: string; token?: TokenChoice; text?: string };

export type FieldChoice = { f: "unique" } | { f: "missing" } | { f: "empty" } | { f: "pool"; index: number } | { f: "random"; value: string } | { f: "nested" } | { f: "long"; length: number };

export type Payload =
	| { p: "preauth"; tokens: TokenChoice[]; xmlns: string; before: ExtraChild[]; after: ExtraChild[]; attrs: [string, string][] }
	| { p: "register"; username: FieldChoice; password: FieldChoice; form: "none" | "form" | "bad-form"; remove: boolean; extra: ExtraChild[] }
	| { p: "register-get"; extra: ExtraChild[] }
	| { p: "empty" }
	| { p: "other"; child: ExtraChild };

export interface IqShape {
	type: IqType;
	garbageType: string;
	id: string | null;
	to: ToChoice;
	from: FromChoice;
	attrs: [string, string][];
	payload: Payload;
}

export type InviteKind = "account" | "account-for" | "account-roles" | "reset" | "contact" | "contact-ibr" | "group" | "group-reusable" | "elsewhere";

/** What an event carries as validated_invite. */
export type EventInvite =
	| { kind: "none" }
	| { kind: "genuine"; invite: number }
	| { kind: "table"; token: TokenChoice; type: unknown; reusable: unknown; jid: unknown; inviter: unknown; additional: unknown; withUse: boolean }
	| { kind: "value"; value: string | number | boolean };

/** The session an event carries. */
export type EventSession = { s: "none" } | { s: "session"; session: number };

export type Store = "invite_token" | "accounts" | "roster" | "account_details" | "groups" | "roles";

/**
 * One step of a run:
 *  - connect, login, close: sessions (unauthenticated with or without TLS,
 *    from one of CLIENT_ADDRESSES or, ip < 0, an address of its own;
 *    signed in as an existing account; closed);
 *  - invite, delete-invite, advance, storage: invites of every kind made
 *    through mod_invites (or written by "another process"), revoked; time;
 *    a store failing for a few actions;
 *  - account: an admin deletes an account (in the server, or from another
 *    process: no event), or on 13 disables or enables it;
 *  - features, iq, s2s-iq, hook-iq, burst, presence: stream features;
 *    stanzas from a session through Prosody's router, from a remote server,
 *    fired straight at the module's hook (result/error IQs, odd origins), or
 *    several at once (interleaved when storage yields); subscription
 *    requests (XEP-0379);
 *  - registering, registered / password-reset, web, invite-created: the
 *    events other modules fire, with genuine, made-up or malformed invites;
 *  - flow, contact-flow, web-flow, race: the valid paths, so that they run
 *    often: an invite made and used in-band, for a subscription, on the web,
 *    or by several clients registering at once.
 */
export type Action =
	| { a: "connect"; secure: boolean; ip: number }
	| { a: "login"; account: number }
	| { a: "close"; session: number }
	| { a: "invite"; kind: InviteKind; name: number; ttl: number | null; inviter: number }
	| { a: "delete-invite"; invite: number }
	| { a: "account"; account: number; how: "delete" | "delete-elsewhere" | "disable" | "enable" }
	| { a: "advance"; seconds: number }
	| { a: "storage"; store: Store; how: "error" | "raise" | null; op: "get" | "set" | null; actions: number }
	| { a: "features"; session: number; s2s: boolean }
	| { a: "iq"; session: number; iq: IqShape }
	| { a: "s2s-iq"; remote: number; iq: IqShape }
	| { a: "hook-iq"; event: "preauth" | "register"; session: number; s2s: boolean; iq: IqShape }
	| { a: "burst"; items: { session: number; iq: IqShape }[]; yielding?: boolean }
	| { a: "race"; kind: InviteKind; clients: number; usernames: number[] }
	| { a: "flow"; kind: InviteKind; name: number; username: number; secure: boolean; present: boolean }
	| { a: "presence"; from: { local: number } | { remote: number }; to: "account" | "pool" | "full" | "host" | "garbage"; user: number; type: string | null; tokens: TokenChoice[]; extra: ExtraChild[] }
	| { a: "contact-flow"; inviter: number; remote: number; ibr: boolean; local: boolean }
	| { a: "registering"; session: EventSession; invite: EventInvite; username: unknown; allowed: boolean | null; noHost: boolean }
	| { a: "registered" | "password-reset"; session: EventSession; invite: EventInvite; username: unknown }
	| { a: "web"; invite: EventInvite; username: number }
	| { a: "web-flow"; kind: InviteKind; name: number; username: number }
	| { a: "invite-created"; table: Record<string, unknown> | string | number };

// ---------------------------------------------------------------------------
// Arbitraries

/** An empty list (the same frozen one each time: nothing mutates it). */
function empty<T>(): fc.Arbitrary<T[]> {
	return fc.constant(Object.freeze([]) as unknown as T[]);
}

const safeChars = fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split(""));

export const tokenChoice: fc.Arbitrary<TokenChoice> = fc.oneof(
	{ weight: 6, arbitrary: fc.record({ t: fc.constant("real" as const), invite: fc.nat(), mutate: fc.oneof({ weight: 6, arbitrary: fc.constant("none" as const) }, { weight: 1, arbitrary: fc.constantFrom("upper", "suffix", "prefix", "truncate", "pad") }) }) },
	{ weight: 2, arbitrary: fc.record({ t: fc.constant("fake" as const), value: fc.string({ unit: safeChars, minLength: 1, maxLength: 40 }) }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant("unicode" as const), value: fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }) }) },
	{ weight: 1, arbitrary: fc.record({ t: fc.constant("long" as const), length: fc.oneof(fc.constantFrom(127, 128, 129, 130), fc.integer({ min: 129, max: 20000 })) }) },
	{ weight: 1, arbitrary: fc.constant({ t: "empty" as const }) },
	{ weight: 1, arbitrary: fc.constant({ t: "missing" as const }) },
);

const extraChild: fc.Arbitrary<ExtraChild> = fc.record(
	{
		name: fc.constantFrom("preauth", "query", "x", "register", "foo", "token"),
		xmlns: fc.constantFrom("urn:xmpp:pars:0", "urn:xmpp:pars:1", "jabber:iq:register", "urn:xmpp:invite", "urn:example:other"),
		token: tokenChoice,
		text: fc.string({ maxLength: 12 }),
	},
	{ requiredKeys: ["name"] },
);

const fieldChoice: fc.Arbitrary<FieldChoice> = fc.oneof(
	{ weight: 6, arbitrary: fc.record({ f: fc.constant("pool" as const), index: fc.nat() }) },
	{ weight: 1, arbitrary: fc.constant({ f: "missing" as const }) },
	{ weight: 1, arbitrary: fc.constant({ f: "empty" as const }) },
	{ weight: 1, arbitrary: fc.constant({ f: "nested" as const }) },
	{ weight: 1, arbitrary: fc.record({ f: fc.constant("random" as const), value: fc.string({ unit: "grapheme", maxLength: 20 }) }) },
	{ weight: 1, arbitrary: fc.record({ f: fc.constant("long" as const), length: fc.integer({ min: 1000, max: 5000 }) }) },
);

const attrPairs = fc.array(
	fc.tuple(fc.constantFrom("token", "foo", "xml:lang", "id", "type", "version"), fc.string({ maxLength: 10 })),
	{ maxLength: 2 },
);

const payload: fc.Arbitrary<Payload> = fc.oneof(
	{
		weight: 6,
		arbitrary: fc.record({
			p: fc.constant("preauth" as const),
			tokens: fc.array(tokenChoice, { minLength: 1, maxLength: 3 }),
			xmlns: fc.oneof({ weight: 9, arbitrary: fc.constant("urn:xmpp:pars:0") }, { weight: 1, arbitrary: fc.constantFrom("urn:xmpp:pars:1", "urn:xmpp:invite") }),
			before: fc.oneof({ weight: 8, arbitrary: empty<ExtraChild>() }, { weight: 1, arbitrary: fc.array(extraChild, { maxLength: 2 }) }),
			after: fc.oneof({ weight: 3, arbitrary: empty<ExtraChild>() }, { weight: 1, arbitrary: fc.array(extraChild, { maxLength: 3 }) }),
			attrs: attrPairs,
		}),
	},
	{
		weight: 4,
		arbitrary: fc.record({
			p: fc.constant("register" as const),
			username: fieldChoice,
			password: fc.oneof({ weight: 6, arbitrary: fc.constant({ f: "unique" as const }) }, { weight: 1, arbitrary: fieldChoice }),
			form: fc.oneof({ weight: 6, arbitrary: fc.constant("none" as const) }, { weight: 1, arbitrary: fc.constantFrom("form", "bad-form") }),
			remove: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
			extra: fc.oneof({ weight: 4, arbitrary: empty<ExtraChild>() }, { weight: 1, arbitrary: fc.array(extraChild, { maxLength: 2 }) }),
		}),
	},
	{ weight: 2, arbitrary: fc.record({ p: fc.constant("register-get" as const), extra: fc.oneof({ weight: 4, arbitrary: empty<ExtraChild>() }, { weight: 1, arbitrary: fc.array(extraChild, { maxLength: 2 }) }) }) },
	{ weight: 1, arbitrary: fc.constant({ p: "empty" as const }) },
	{ weight: 1, arbitrary: fc.record({ p: fc.constant("other" as const), child: extraChild }) },
);

const iqType: fc.Arbitrary<IqType> = fc.oneof(
	{ weight: 8, arbitrary: fc.constant("set" as const) },
	{ weight: 2, arbitrary: fc.constant("get" as const) },
	{ weight: 1, arbitrary: fc.constantFrom("result" as const, "error" as const, "garbage" as const, "missing" as const) },
);

/** Fired directly, the <preauth/> hook also meets IQs whose first child is something else, or none. */
const hookPayload: fc.Arbitrary<Payload> = fc.oneof(
	{ weight: 3, arbitrary: payload },
	{ weight: 1, arbitrary: fc.constantFrom<Payload>({ p: "empty" }, { p: "other", child: { name: "foo", xmlns: "urn:example:other" } }) },
);

const hookIqType: fc.Arbitrary<IqType> = fc.oneof(
	{ weight: 2, arbitrary: fc.constantFrom("set" as const, "get" as const) },
	{ weight: 2, arbitrary: fc.constantFrom("result" as const, "error" as const, "garbage" as const, "missing" as const) },
);

export function iqShape(payloadArb: fc.Arbitrary<Payload> = payload, typeArb: fc.Arbitrary<IqType> = iqType): fc.Arbitrary<IqShape> {
	return fc.record({
		type: typeArb,
		garbageType: fc.constantFrom("SET", "normal", "", "chat", "headline", " set"),
		id: fc.oneof({ weight: 8, arbitrary: fc.string({ unit: safeChars, minLength: 1, maxLength: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(null, "") }, { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 300 }) }),
		to: fc.oneof({ weight: 8, arbitrary: fc.constant("none" as const) }, { weight: 2, arbitrary: fc.constant("host" as const) }, { weight: 2, arbitrary: fc.constantFrom("host-resource" as const, "local-bare" as const, "local-full" as const, "own-bare" as const, "remote" as const, "garbage" as const, "empty" as const) }),
		from: fc.oneof({ weight: 10, arbitrary: fc.constant("none" as const) }, { weight: 1, arbitrary: fc.constantFrom("valid" as const, "garbage" as const) }),
		attrs: fc.oneof({ weight: 4, arbitrary: empty<[string, string]>() }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom("xml:lang", "foo", "token", "version"), fc.string({ maxLength: 8 })), { maxLength: 2 }) }),
		payload: payloadArb,
	});
}

const registerPayload = payload.filter((p) => p.p === "register" || p.p === "register-get");

const inviteKind: fc.Arbitrary<InviteKind> = fc.constantFrom("account", "account-for", "account-roles", "reset", "contact", "contact-ibr", "group", "group-reusable", "elsewhere");

const sessionRef = fc.nat({ max: 50 });
const inviteRef = fc.nat({ max: 50 });

const eventSession: fc.Arbitrary<EventSession> = fc.oneof(
	fc.constant({ s: "none" as const }),
	fc.record({ s: fc.constant("session" as const), session: sessionRef }),
);

const anyValue = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant("register"), fc.constant("roster"));

const eventInvite: fc.Arbitrary<EventInvite> = fc.oneof(
	{ weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
	{ weight: 4, arbitrary: fc.record({ kind: fc.constant("genuine" as const), invite: inviteRef }) },
	{
		weight: 3,
		arbitrary: fc.record({
			kind: fc.constant("table" as const),
			token: tokenChoice,
			type: anyValue,
			reusable: fc.oneof(fc.constant(undefined), fc.boolean(), fc.constant("yes")),
			jid: fc.oneof(fc.constant(undefined), fc.constantFrom("alice@example.com", "example.com", "mallory@example.com", "@@"), fc.integer()),
			inviter: fc.oneof(fc.constant(undefined), fc.constant(undefined), fc.constantFrom("alice", "nobody", ""), fc.integer()),
			additional: fc.oneof(
				fc.constant(undefined),
				fc.constant({ allow_reset: "alice" }),
				fc.constant({ allow_reset: 5 }),
				fc.constant({ groups: ["crew", 7] }),
				fc.constant({ roles: ["prosody:admin"] }),
				fc.constant({ roles: { "prosody:operator": true } }),
				fc.constant("junk"),
				fc.constant(12),
			),
			withUse: fc.boolean(),
		}),
	},
	{ weight: 1, arbitrary: fc.record({ kind: fc.constant("value" as const), value: fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean()) }) },
);

const eventUsername = fc.oneof(
	{ weight: 5, arbitrary: fc.constantFrom(...USERNAMES) },
	{ weight: 1, arbitrary: fc.oneof(fc.constant(undefined), fc.integer(), fc.constant(true), fc.string({ maxLength: 6 })) },
);

/**
 * The username of user-registered and user-password-reset: an account was
 * created or reset, so a name that nodeprep accepts (or none at all). An
 * empty or invalid name would end up in the inviter's roster as an invalid
 * JID, which mod_presence chokes on later: garbage no module can send.
 */
const accountUsername = fc.oneof(
	{ weight: 6, arbitrary: fc.constantFrom("alice", "bob", "carol", "dave", "eve", "mallory", "ø") },
	{ weight: 1, arbitrary: fc.constant(undefined) },
);

const inviteCreatedTable = fc.oneof(
	{
		weight: 5,
		arbitrary: fc.record(
			{
				type: anyValue,
				jid: fc.oneof(fc.constantFrom("alice@example.com", "dave@example.com", "example.com", "x@other.example", "@", ""), fc.integer(), fc.constant(undefined)),
				token: fc.oneof(fc.string({ unit: safeChars, minLength: 16, maxLength: 24 }), fc.integer(), fc.constant(undefined), fc.constant("")),
				expires: fc.oneof(fc.integer({ min: -1000, max: 100000 }), fc.constant("tomorrow"), fc.constant(undefined)),
				additional_data: fc.oneof(fc.constant(undefined), fc.constant({ allow_reset: "bob" }), fc.constant({ allow_reset: 3 }), fc.constant("junk"), fc.constant({ groups: ["g"] })),
				reusable: fc.oneof(fc.constant(undefined), fc.boolean()),
			},
			{ requiredKeys: [] },
		),
	},
	{ weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 5 }), fc.integer()) },
);

const storageAction = fc.record({
	a: fc.constant("storage" as const),
	store: fc.constantFrom<Store>("invite_token", "invite_token", "accounts", "roster", "account_details", "groups", "roles"),
	how: fc.oneof({ weight: 2, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom("error" as const, "raise" as const) }),
	op: fc.constantFrom("get" as const, "set" as const, null),
	// How many actions the failure lasts (storage comes back, as it does).
	actions: fc.integer({ min: 1, max: 8 }),
});

const presenceAction = fc.record({
	a: fc.constant("presence" as const),
	from: fc.oneof(fc.record({ local: sessionRef }), fc.record({ remote: fc.nat({ max: REMOTE_JIDS.length - 1 }) })),
	to: fc.oneof({ weight: 6, arbitrary: fc.constant("account" as const) }, { weight: 1, arbitrary: fc.constantFrom("pool" as const, "full" as const, "host" as const, "garbage" as const) }),
	user: fc.nat({ max: 20 }),
	type: fc.oneof({ weight: 6, arbitrary: fc.constant("subscribe") }, { weight: 1, arbitrary: fc.constantFrom(null, "subscribed", "unsubscribe", "probe", "unavailable", "junk") }),
	tokens: fc.oneof({ weight: 1, arbitrary: empty<TokenChoice>() }, { weight: 6, arbitrary: fc.array(tokenChoice, { minLength: 1, maxLength: 3 }) }),
	extra: fc.oneof({ weight: 4, arbitrary: empty<ExtraChild>() }, { weight: 1, arbitrary: fc.array(extraChild, { maxLength: 2 }) }),
});

/** Every kind of action, with weights per property. */
export interface Mix {
	connect?: number;
	login?: number;
	close?: number;
	invite?: number;
	deleteInvite?: number;
	/** An admin deletes (in the server or from another process), disables or enables an account (the last two only on 13). */
	account?: number;
	advance?: number;
	storage?: number;
	features?: number;
	iq?: number;
	registerIq?: number;
	s2sIq?: number;
	hookIq?: number;
	burst?: number;
	race?: number;
	flow?: number;
	presence?: number;
	contactFlow?: number;
	registering?: number;
	registered?: number;
	web?: number;
	webFlow?: number;
	inviteCreated?: number;
}

export function action(mix: Mix): fc.Arbitrary<Action> {
	const all: [number | undefined, fc.Arbitrary<Action>][] = [
		[mix.connect, fc.record({ a: fc.constant("connect" as const), secure: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), ip: fc.nat({ max: CLIENT_ADDRESSES.length - 1 }) })],
		[mix.login, fc.record({ a: fc.constant("login" as const), account: fc.nat({ max: 20 }) })],
		[mix.close, fc.record({ a: fc.constant("close" as const), session: sessionRef })],
		[mix.invite, fc.record({ a: fc.constant("invite" as const), kind: inviteKind, name: fc.nat({ max: 20 }), ttl: fc.oneof(fc.constant(null), fc.constantFrom(30, 60, 120, 3600)), inviter: fc.nat({ max: 20 }) })],
		[mix.deleteInvite, fc.record({ a: fc.constant("delete-invite" as const), invite: inviteRef })],
		[mix.account, fc.record({ a: fc.constant("account" as const), account: fc.nat({ max: 20 }), how: fc.constantFrom("delete" as const, "delete-elsewhere" as const, "disable" as const, "enable" as const) })],
		[mix.advance, fc.record({ a: fc.constant("advance" as const), seconds: fc.oneof(fc.integer({ min: 1, max: 90 }), fc.constantFrom(300, 3601, 86400 * 8)) })],
		[mix.storage, storageAction],
		[mix.features, fc.record({ a: fc.constant("features" as const), session: sessionRef, s2s: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) })],
		[mix.iq, fc.record({ a: fc.constant("iq" as const), session: sessionRef, iq: iqShape() })],
		[mix.registerIq, fc.record({ a: fc.constant("iq" as const), session: sessionRef, iq: iqShape(registerPayload) })],
		[mix.s2sIq, fc.record({ a: fc.constant("s2s-iq" as const), remote: fc.nat({ max: REMOTE_JIDS.length - 1 }), iq: iqShape() })],
		[
			mix.hookIq,
			fc.oneof(
				// Fired directly, the hook meets what the router never passes it: result, error, odd types.
				fc.record({ a: fc.constant("hook-iq" as const), event: fc.constant("preauth" as const), session: sessionRef, s2s: fc.boolean(), iq: iqShape(hookPayload, hookIqType) }),
				fc.record({
					a: fc.constant("hook-iq" as const),
					event: fc.constant("register" as const),
					session: sessionRef,
					s2s: fc.boolean(),
					iq: iqShape(registerPayload).map((iq) => ({ ...iq, type: iq.payload.p === "register-get" ? ("get" as const) : ("set" as const) })),
				}),
			),
		],
		[mix.burst, fc.record({ a: fc.constant("burst" as const), items: fc.array(fc.record({ session: sessionRef, iq: iqShape() }), { minLength: 2, maxLength: 5 }) })],
		[mix.race, fc.record({ a: fc.constant("race" as const), kind: fc.constantFrom<InviteKind>("account", "account-for", "group", "group-reusable", "contact-ibr", "reset"), clients: fc.integer({ min: 2, max: 3 }), usernames: fc.array(fc.nat({ max: 20 }), { minLength: 3, maxLength: 3 }) })],
		[
			mix.flow,
			fc.record({
				a: fc.constant("flow" as const),
				kind: inviteKind,
				name: fc.nat({ max: 20 }),
				username: fc.nat({ max: 20 }),
				secure: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
				present: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
			}),
		],
		[mix.presence, presenceAction],
		[mix.contactFlow, fc.record({ a: fc.constant("contact-flow" as const), inviter: fc.nat({ max: 20 }), remote: fc.nat({ max: REMOTE_JIDS.length - 1 }), ibr: fc.boolean(), local: fc.boolean() })],
		[mix.registering, fc.record({ a: fc.constant("registering" as const), session: eventSession, invite: eventInvite, username: eventUsername, allowed: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constantFrom(false, null) }), noHost: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) })],
		[mix.registered, fc.record({ a: fc.constantFrom("registered" as const, "password-reset" as const), session: eventSession, invite: eventInvite, username: accountUsername })],
		[mix.web, fc.record({ a: fc.constant("web" as const), invite: eventInvite, username: fc.nat({ max: 20 }) })],
		[mix.webFlow, fc.record({ a: fc.constant("web-flow" as const), kind: inviteKind, name: fc.nat({ max: 20 }), username: fc.nat({ max: 20 }) })],
		[mix.inviteCreated, fc.record({ a: fc.constant("invite-created" as const), table: inviteCreatedTable })],
	];
	return fc.oneof(...all.filter(([weight]) => weight !== undefined && weight > 0).map(([weight, arbitrary]) => ({ weight: weight as number, arbitrary })));
}

/** A run: options of the simulated server, and a sequence of actions on it. */
export interface Scenario {
	/** Storage yields on every call (other sessions run meanwhile), as slow storage would. */
	yielding: boolean;
	actions: Action[];
}

export function scenario(mix: Mix, length: { min: number; max: number }): fc.Arbitrary<Scenario> {
	return fc.record({
		yielding: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
		// Without bias, lengths spread over the whole range: fast-check's bias keeps the first
		// runs short, and there are few runs (each needs a new simulator). Edge cases (empty,
		// missing, oversized tokens…) are explicit choices above, not left to the bias.
		actions: fc.noBias(fc.array(action(mix), { minLength: length.min, maxLength: length.max, size: "max" })),
	});
}
