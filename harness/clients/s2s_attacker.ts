/**
 * A remote server that floods XEP-0379 subscription requests with made-up
 * tokens (bench/abuse.ts's s2s workloads, spec/e2e/rotating_budgets): presences of type subscribe
 * with `<preauth xmlns='urn:xmpp:pars:0' token='…'/>` from ever new
 * senders of ever new domains, to the users of the server under test, over
 * real server-to-server streams authenticated with dialback (XEP-0220).
 *
 * It plays both parts of the remote side:
 *  - the originating server: connections from ATTACKER_ADDRESS to the
 *    server's s2s port, one `<db:result/>` per domain it claims, then the
 *    presences of that domain once the server said valid;
 *  - the authoritative server the server connects back to, to check each
 *    key: a listener on ATTACKER_ADDRESS:5269 that says every key is valid.
 *    The server finds it through a hosts file given to its resolver
 *    (`unbound = { hoststxt = … }`), so nothing leaves loopback.
 * Port 5269 on both sides (the s2s default, as DNS without SRV gives it):
 * run inside a network namespace of its own (netns.ts).
 *
 * Rotations:
 *  - "s2s-subdomains": one connection, a new subdomain of one base domain
 *    (sN.evil.example) every `perDomain` requests, all multiplexed over
 *    that connection (XEP-0220 allows a stream to carry several domains);
 *  - "s2s-domains": a new connection and a new base domain (evilN.example)
 *    every `perDomain` requests.
 * Streams are not encrypted (the server under test is told not to require
 * it): TLS would cost both modules the same and measure nothing of theirs.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import net from "node:net";
import type { Element } from "ltx";
import { STREAM_NS, StreamReader } from "./raw_xmpp.js";

export const ATTACKER_ADDRESS = "127.0.0.2";
export const S2S_PORT = 5269;
const DIALBACK_NS = "jabber:server:dialback";

export type S2sRotation = "s2s-subdomains" | "s2s-domains";

/** The options of the server under test that let it talk to the attacker. */
export function s2sServerOptions(hostsFile: string): { [option: string]: string | boolean | number[] | string[] | Record<string, string> } {
	return {
		modules_disabled: [],
		s2s_ports: [S2S_PORT],
		s2s_interfaces: ["127.0.0.1"],
		s2s_require_encryption: false,
		s2s_secure_auth: false,
		unbound: { hoststxt: hostsFile },
	};
}

/** The domains of a flood of `requests`, `perDomain` each. */
export function attackerDomains(rotation: S2sRotation, requests: number, perDomain: number): string[] {
	const count = Math.ceil(requests / perDomain);
	return Array.from({ length: count }, (_, i) => (rotation === "s2s-subdomains" ? `s${i + 1}.evil.example` : `evil${i + 1}.example`));
}

/** Writes the hosts file the server's resolver reads: every attacker domain at ATTACKER_ADDRESS. */
export function writeHostsFile(file: string, domains: string[]): void {
	writeFileSync(file, domains.map((d) => `${ATTACKER_ADDRESS} ${d}\n`).join(""));
}

const header = (from: string, to: string, id?: string) =>
	`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='${STREAM_NS}' xmlns:db='${DIALBACK_NS}' ` +
	`from='${from}' to='${to}'${id ? ` id='${id}'` : ""} version='1.0'>`;

/** One stream over a socket: elements to a callback, writes as text. */
class Stream {
	readonly reader = new StreamReader();
	readonly closed: Promise<void>;

	constructor(readonly socket: net.Socket) {
		socket.on("data", (chunk: Buffer) => this.reader.write(chunk));
		socket.on("error", () => socket.destroy());
		this.reader.onError = () => socket.destroy();
		this.reader.onEnd = () => this.close();
		this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
	}

	send(text: string): void {
		if (!this.socket.destroyed) this.socket.write(text);
	}

	close(): void {
		if (this.socket.destroyed) return;
		this.socket.end("</stream:stream>");
		setTimeout(() => this.socket.destroy(), 200).unref();
	}
}

/**
 * The authoritative side: answers the server's own dialback (its
 * `<db:result/>` on its connection to us) and its key checks
 * (`<db:verify/>`) with valid, and reports the IQ results it routes back.
 */
export class AuthoritativeServer {
	private readonly streams = new Set<Stream>();
	private readonly waiting = new Map<string, () => void>();

	private constructor(private readonly listener: net.Server) {
		listener.on("connection", (socket) => {
			const stream = new Stream(socket);
			this.streams.add(stream);
			void stream.closed.then(() => this.streams.delete(stream));
			stream.reader.onOpen = (attrs) => {
				stream.send(header(attrs.to, attrs.from, randomBytes(8).toString("hex")) + `<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>`);
			};
			stream.reader.onElement = (el) => this.answer(stream, el);
		});
	}

	static listen(): Promise<AuthoritativeServer> {
		return new Promise((resolve, reject) => {
			const listener = net.createServer();
			listener.once("error", reject);
			listener.listen(S2S_PORT, ATTACKER_ADDRESS, () => resolve(new AuthoritativeServer(listener)));
		});
	}

	private answer(stream: Stream, el: Element): void {
		const { from, to, id } = el.attrs as Record<string, string>;
		if (el.name === "db:result" && el.attrs.type === undefined) {
			stream.send(`<db:result from='${to}' to='${from}' type='valid'/>`);
		} else if (el.name === "db:verify") {
			stream.send(`<db:verify from='${to}' to='${from}' id='${id}' type='valid'>${el.getText()}</db:verify>`);
		} else if (el.name === "iq" && id !== undefined) {
			this.waiting.get(id)?.();
			this.waiting.delete(id);
		}
	}

	/** Resolves when the IQ result (or error) with this id arrives, or after `ms`. */
	iqAnswered(id: string, ms: number): Promise<boolean> {
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.waiting.delete(id);
				resolve(false);
			}, ms);
			this.waiting.set(id, () => {
				clearTimeout(timer);
				resolve(true);
			});
		});
	}

	async close(): Promise<void> {
		for (const stream of this.streams) stream.close();
		await new Promise<void>((resolve) => this.listener.close(() => resolve()));
	}
}

/** An originating connection: claims domains with dialback, then sends on their behalf. */
class OriginatingStream {
	private readonly stream: Stream;
	private readonly results = new Map<string, (valid: boolean) => void>();
	private opened: Promise<void>;

	private constructor(socket: net.Socket, first: string, target: string) {
		this.stream = new Stream(socket);
		let opened = () => undefined as void;
		this.opened = new Promise<void>((resolve) => (opened = resolve));
		this.stream.reader.onElement = (el) => {
			if (el.name === "stream:features") opened();
			if (el.name === "db:result" && el.attrs.type !== undefined) {
				// The server's answer: from itself, to the domain claimed.
				this.results.get(el.attrs.to)?.(el.attrs.type === "valid");
				this.results.delete(el.attrs.to);
			}
		};
		socket.once("connect", () => this.stream.send(header(first, target)));
	}

	static async open(port: number, first: string, target: string): Promise<OriginatingStream> {
		const socket = net.connect({ host: "127.0.0.1", port, localAddress: ATTACKER_ADDRESS });
		const origin = new OriginatingStream(socket, first, target);
		let timer: NodeJS.Timeout | undefined;
		const timeout = new Promise<never>((_, reject) => {
			timer = setTimeout(() => reject(new Error("no s2s stream features within 10 s")), 10_000);
		});
		try {
			await Promise.race([origin.opened, origin.stream.closed.then(() => Promise.reject(new Error("s2s stream closed before its features"))), timeout]);
		} catch (error) {
			origin.close();
			throw error;
		} finally {
			clearTimeout(timer);
		}
		return origin;
	}

	/** Claims `domain` on this stream (dialback); whether the server accepted it within `ms`. */
	claim(domain: string, target: string, ms: number): Promise<boolean> {
		return new Promise((resolve) => {
			const timer = setTimeout(() => resolve(false), ms);
			this.results.set(domain, (valid) => {
				clearTimeout(timer);
				resolve(valid);
			});
			this.stream.send(`<db:result from='${domain}' to='${target}'>${randomBytes(16).toString("hex")}</db:result>`);
		});
	}

	send(text: string): void {
		this.stream.send(text);
	}

	get isOpen(): boolean {
		return !this.stream.socket.destroyed;
	}

	close(): void {
		this.stream.close();
	}
}

export interface S2sFloodCounts {
	connections: number;
	domains: number;
	/** Domains the server did not accept (dialback refused or timed out). */
	refused_domains: number;
	sent: number;
	/** Whether the server had handled every request when the flood ended (a ping after them came back). */
	drained: boolean;
}

export interface S2sFloodOptions {
	rotation: S2sRotation;
	port: number;
	target: string;
	/** The local users the requests go to, in turn. */
	victims: string[];
	requests: number;
	perDomain: number;
	/** Made-up tokens of the right shape. */
	token: () => string;
	deadline: number;
	/** After the first requests are written. */
	onSent: (sent: number) => void;
	/** The domains to claim, in place of attackerDomains(rotation, …) (each must be in the hosts file). */
	domains?: string[];
}

/** Runs the flood; the authoritative side must be listening. */
export async function s2sFlood(authority: AuthoritativeServer, options: S2sFloodOptions): Promise<S2sFloodCounts> {
	const domains = options.domains ?? attackerDomains(options.rotation, options.requests, options.perDomain);
	const counts: S2sFloodCounts = { connections: 0, domains: 0, refused_domains: 0, sent: 0, drained: false };
	const streams: OriginatingStream[] = [];
	let stream: OriginatingStream | undefined;
	let serial = 0;
	/** Each stream's last accepted domain: where its closing ping comes from. */
	const lastDomain = new Map<OriginatingStream, string>();
	try {
		for (const domain of domains) {
			if (Date.now() >= options.deadline || counts.sent >= options.requests) break;
			if (stream === undefined || options.rotation === "s2s-domains" || !stream.isOpen) {
				stream = await OriginatingStream.open(options.port, domain, options.target);
				streams.push(stream);
				counts.connections++;
			}
			counts.domains++;
			if (!(await stream.claim(domain, options.target, 5_000))) {
				counts.refused_domains++;
				// Three refused in a row before any request: the server cannot reach the
				// authoritative side (no hosts file for its resolver?); stop rather than wait on.
				if (counts.sent === 0 && counts.refused_domains >= 3) break;
				continue;
			}
			let batch = "";
			for (let i = 0; i < options.perDomain && counts.sent < options.requests; i++) {
				serial++;
				const victim = options.victims[serial % options.victims.length];
				batch +=
					`<presence type='subscribe' from='u${serial}@${domain}' to='${victim}@${options.target}'>` +
					`<preauth xmlns='urn:xmpp:pars:0' token='${options.token()}'/></presence>`;
				counts.sent++;
			}
			stream.send(batch);
			lastDomain.set(stream, domain);
			options.onSent(counts.sent);
		}
		// The server handles a stream's stanzas in order: once a ping sent
		// after a stream's requests is answered (routed to the authoritative
		// side), they are all handled.
		const answers = [...lastDomain].map(([s, domain], i) => {
			const id = `drain${i}`;
			const answered = authority.iqAnswered(id, Math.max(5_000, options.deadline - Date.now()));
			s.send(`<iq type='get' id='${id}' from='u0@${domain}' to='${options.target}'><ping xmlns='urn:xmpp:ping'/></iq>`);
			return answered;
		});
		counts.drained = answers.length > 0 && (await Promise.all(answers)).every(Boolean);
	} finally {
		for (const s of streams) s.close();
	}
	return counts;
}
