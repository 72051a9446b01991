/**
 * A real XMPP client (@xmpp/client) for the end-to-end tests.
 *
 * `Connection.open(server)` connects, negotiates STARTTLS and stops before
 * SASL, where an unregistered client can send <preauth/> and In-Band
 * Registration IQs. `login()` then signs in on the same stream, or
 * `Connection.login()` connects an existing account directly.
 */
import { randomUUID } from "node:crypto";
import { client, xml, type Client } from "@xmpp/client";
import type { CredentialsFactory } from "@xmpp/sasl2";
import type { Element } from "ltx";

/** Where to connect: a ProsodyServer, or any server on loopback. */
export interface Endpoint {
	readonly port: number;
	readonly domain: string;
}

type Authenticate = Parameters<CredentialsFactory<Client>>[0];

interface Deferred<T> {
	promise: Promise<T>;
	resolve(value: T): void;
	reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
	let resolve!: (value: T) => void;
	let reject!: (reason: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	return { promise, resolve, reject };
}

let nextId = 0;
const TIMEOUT_MS = 10_000;

export class Connection {
	/** Stream features in the order received (before STARTTLS, then after). */
	readonly features: Element[] = [];
	/** Every stanza received, in order. */
	readonly received: Element[] = [];
	private waiters: { match: (el: Element) => boolean; found: Deferred<Element> }[] = [];
	private atSasl = deferred<{ authenticate: Authenticate; mechanisms: string[] }>();
	private credentials = deferred<{ username: string; password: string } | undefined>();
	private online: Promise<unknown>;
	private failure: unknown;

	private constructor(
		readonly xmpp: Client,
		readonly server: Endpoint,
	) {
		xmpp.on("error", (err: unknown) => {
			this.failure = err;
		});
		xmpp.on("nonza", (el: Element) => {
			if (el.name === "stream:features" || el.is("features", "http://etherx.jabber.org/streams")) this.features.push(el);
		});
		xmpp.on("stanza", (el: Element) => {
			this.received.push(el);
			for (const waiter of [...this.waiters]) {
				if (waiter.match(el)) {
					this.waiters.splice(this.waiters.indexOf(waiter), 1);
					waiter.found.resolve(el);
				}
			}
		});
		this.online = xmpp.start();
		this.online.catch((err: unknown) => {
			this.atSasl.reject(err);
		});
	}

	private static create(server: Endpoint, resource: string): Connection {
		let connection: Connection | undefined = undefined;
		const xmpp = client({
			service: `xmpp://127.0.0.1:${server.port}`,
			domain: server.domain,
			resource,
			credentials: async (authenticate: Authenticate, mechanisms: string[]) => {
				connection!.atSasl.resolve({ authenticate, mechanisms });
				const credentials = await connection!.credentials.promise;
				if (credentials === undefined) throw new Error("closed before signing in");
				// Over TLS, PLAIN checks the same stored credentials as SCRAM, which
				// @xmpp/client computes in plain JavaScript (about a second each).
				const mechanism = mechanisms.includes("PLAIN") ? "PLAIN" : mechanisms[0];
				await authenticate(credentials, mechanism, xml("user-agent", { id: randomUUID() }) as Element);
			},
		});
		connection = new Connection(xmpp, server);
		return connection;
	}

	/** Connects and stops where SASL would start (after STARTTLS): an unregistered client. */
	static async open(server: Endpoint, resource = "e2e"): Promise<Connection> {
		const connection = Connection.create(server, resource);
		await withTimeout(connection.atSasl.promise, "reaching SASL");
		return connection;
	}

	/** Connects and signs in as an existing account. */
	static async login(server: Endpoint, username: string, password: string, resource = "e2e"): Promise<Connection> {
		const connection = await Connection.open(server, resource);
		await connection.login(username, password);
		return connection;
	}

	/** The condition of the stream error the server closed the stream with, once it has. */
	async streamError(): Promise<string | undefined> {
		for (let i = 0; i < 50 && this.failure === undefined; i++) await new Promise((resolve) => setTimeout(resolve, 100));
		const failure = this.failure as { name?: string; condition?: string } | undefined;
		return failure?.name === "StreamError" ? failure.condition : undefined;
	}

	/** The stream features a client not yet signed in is offered (after STARTTLS). */
	get currentFeatures(): Element {
		return this.features[this.features.length - 1];
	}

	/** Signs in on this stream (SASL, then resource binding). */
	async login(username: string, password: string): Promise<void> {
		this.credentials.resolve({ username, password });
		await withTimeout(this.online, `signing in as ${username}`);
	}

	/** Sends an IQ and returns the reply (result or error). */
	async iq(iq: Element): Promise<Element> {
		const id = iq.attrs.id ?? `e2e${++nextId}`;
		iq.attrs.id = id;
		const reply = this.waitFor((el) => el.name === "iq" && el.attrs.id === id && (el.attrs.type === "result" || el.attrs.type === "error"));
		await this.xmpp.send(iq);
		return reply;
	}

	/** <iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq> (token omitted when undefined). */
	async preauth(token: string | undefined, type = "set"): Promise<Element> {
		return this.iq(xml("iq", { type }, xml("preauth", token === undefined ? { xmlns: "urn:xmpp:pars:0" } : { xmlns: "urn:xmpp:pars:0", token })) as Element);
	}

	/** XEP-0077 registration with username and password. */
	async register(username: string, password: string): Promise<Element> {
		return this.iq(
			xml("iq", { type: "set", to: this.server.domain }, xml("query", { xmlns: "jabber:iq:register" }, xml("username", {}, username), xml("password", {}, password))) as Element,
		);
	}

	async send(stanza: Element): Promise<void> {
		await this.xmpp.send(stanza);
	}

	/**
	 * Sends the registration IQ, then drops the connection without a word,
	 * as a dropped mobile connection does (no reply awaited).
	 */
	async registerAndDrop(username: string, password: string): Promise<void> {
		await this.xmpp.send(
			xml("iq", { type: "set", to: this.server.domain, id: `e2e${++nextId}` }, xml("query", { xmlns: "jabber:iq:register" }, xml("username", {}, username), xml("password", {}, password))) as Element,
		);
		// The TLS socket, destroyed: no </stream>, no TLS close_notify.
		(this.xmpp as unknown as { socket?: { socket?: { destroy: () => void } } }).socket?.socket?.destroy();
	}

	/** The first stanza (already received, or arriving within the timeout) that matches. */
	async waitFor(match: (el: Element) => boolean, what = "a stanza"): Promise<Element> {
		const seen = this.received.find(match);
		if (seen) return seen;
		const found = deferred<Element>();
		this.waiters.push({ match, found });
		return withTimeout(found.promise, what);
	}

	/** The user's roster: items by JID. */
	async roster(): Promise<Map<string, { subscription: string; ask?: string }>> {
		const reply = await this.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })) as Element);
		const items = new Map<string, { subscription: string; ask?: string }>();
		for (const item of reply.getChild("query", "jabber:iq:roster")?.getChildren("item") ?? []) {
			items.set(item.attrs.jid, { subscription: item.attrs.subscription, ...(item.attrs.ask ? { ask: item.attrs.ask } : {}) });
		}
		return items;
	}

	/** Sends available presence. */
	async available(): Promise<void> {
		await this.xmpp.send(xml("presence") as Element);
	}

	async close(): Promise<void> {
		this.credentials.resolve(undefined);
		try {
			await withTimeout(this.xmpp.stop(), "closing the stream");
		} catch {
			// already closed
		}
	}

	get error(): unknown {
		return this.failure;
	}
}

async function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out ${what}`)), TIMEOUT_MS);
	});
	try {
		return await Promise.race([promise, timeout]);
	} finally {
		clearTimeout(timer);
	}
}

export { xml };
