/**
 * XMPP by hand, for the attackers of bench/abuse.ts: a reader of XMPP
 * streams and a raw client connection (TCP, STARTTLS, then whatever the
 * caller writes), where @xmpp/client would not let a client misbehave.
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { StringDecoder } from "node:string_decoder";
import tls from "node:tls";
import { Element } from "ltx";
import SaxLtx from "ltx/src/parsers/ltx.js";

export const STREAM_NS = "http://etherx.jabber.org/streams";
const STREAMS_ERR_NS = "urn:ietf:params:xml:ns:xmpp-streams";
const TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls";
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Reads an XMPP stream: each child of the stream root, once complete, goes
 * to `onElement`; the root's end to `onEnd`.
 */
export class StreamReader {
	private readonly sax = new SaxLtx();
	private readonly decoder = new StringDecoder("utf8");
	private depth = 0;
	private current: Element | undefined;
	/** The stream root's attributes (its id, for dialback). */
	onOpen: (attrs: Record<string, string>) => void = () => undefined;
	onElement: (el: Element) => void = () => undefined;
	onEnd: () => void = () => undefined;
	onError: (err: Error) => void = () => undefined;

	constructor() {
		this.sax.on("startElement", (name: string, attrs: Record<string, string>) => {
			this.depth++;
			if (this.depth === 1) return this.onOpen(attrs); // <stream:stream>
			const el = new Element(name, attrs);
			this.current = this.current === undefined ? el : this.current.cnode(el);
		});
		this.sax.on("endElement", () => {
			this.depth--;
			if (this.depth === 0) {
				this.onEnd();
				return;
			}
			const el = this.current!;
			if (this.depth === 1) {
				this.current = undefined;
				this.onElement(el);
			} else {
				this.current = el.parent ?? undefined;
			}
		});
		this.sax.on("text", (text: string) => {
			this.current?.t(text);
		});
		this.sax.on("error", (err: Error) => this.onError(err));
	}

	write(chunk: Buffer): void {
		this.sax.write(this.decoder.write(chunk));
	}
}

export const streamHeader = (domain: string) =>
	`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='${STREAM_NS}' to='${domain}' version='1.0'>`;

/** An attacker connection after STARTTLS, before SASL: where <preauth/> is allowed. */
export class RawSession {
	/** Set by the server's <stream:error/>. */
	streamError: string | undefined;
	readonly closed: Promise<void>;
	onElement: (el: Element) => void = () => undefined;
	private isClosed = false;

	constructor(
		private readonly socket: tls.TLSSocket,
		private readonly reader: StreamReader,
	) {
		reader.onElement = (el) => {
			if (el.name === "stream:error" || el.is("error", STREAM_NS)) {
				const condition = el.children.find((c): c is Element => typeof c !== "string" && c.attrs.xmlns === STREAMS_ERR_NS && c.name !== "text");
				this.streamError = condition?.name ?? "unknown";
				return;
			}
			this.onElement(el);
		};
		reader.onEnd = () => this.hangUp();
		reader.onError = () => socket.destroy();
		this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
		void this.closed.then(() => (this.isClosed = true));
	}

	get isOpen(): boolean {
		return !this.isClosed && !this.socket.destroyed;
	}

	send(data: string): void {
		if (this.isOpen) this.socket.write(data);
	}

	/** Closes the stream and the connection at once (no waiting for the server's answers). */
	hangUp(): void {
		if (!this.isOpen) return;
		this.socket.end("</stream:stream>");
		setTimeout(() => this.socket.destroy(), 200).unref();
	}

	/**
	 * Connects from `localAddress` to the server on `host`, negotiates
	 * STARTTLS (checking the test certificate), and resolves with the
	 * session once the features after TLS arrived.
	 */
	static open(port: number, domain: string, localAddress: string, ca: Buffer, host = "127.0.0.1"): Promise<RawSession> {
		return new Promise((resolve, reject) => {
			let secure: tls.TLSSocket | undefined;
			let done = false;
			const fail = (err: Error) => {
				if (done) return;
				done = true;
				clearTimeout(timer);
				raw.destroy();
				secure?.destroy();
				reject(err);
			};
			const timer = setTimeout(() => fail(new Error("timed out connecting")), CONNECT_TIMEOUT_MS);
			const raw = net.connect({ host, port, localAddress });
			raw.once("error", fail);
			raw.once("close", () => fail(new Error("closed while connecting")));
			const plain = new StreamReader();
			const onPlain = (chunk: Buffer) => plain.write(chunk);
			plain.onError = fail;
			plain.onEnd = () => fail(new Error("stream closed before STARTTLS"));
			plain.onElement = (el) => {
				if (el.name === "stream:features") {
					if (!el.getChild("starttls", TLS_NS)) return fail(new Error("no STARTTLS offered"));
					raw.write(`<starttls xmlns='${TLS_NS}'/>`);
				} else if (el.name === "proceed") {
					raw.off("data", onPlain);
					secure = tls.connect({ socket: raw, servername: domain, ca });
					secure.once("error", fail);
					secure.once("secureConnect", () => secure!.write(streamHeader(domain)));
					const reader = new StreamReader();
					reader.onError = fail;
					reader.onEnd = () => fail(new Error("stream closed after STARTTLS"));
					reader.onElement = (features) => {
						if (features.name !== "stream:features") return fail(new Error(`unexpected ${features.toString()}`));
						done = true;
						clearTimeout(timer);
						raw.removeAllListeners("close");
						raw.removeAllListeners("error");
						raw.on("error", () => undefined);
						secure!.removeAllListeners("error");
						secure!.on("error", () => undefined); // a reset after the server closed the stream
						resolve(new RawSession(secure!, reader));
					};
					secure.on("data", (chunk: Buffer) => reader.write(chunk));
				} else {
					fail(new Error(`unexpected ${el.toString()}`));
				}
			};
			raw.on("data", onPlain);
			raw.once("connect", () => raw.write(streamHeader(domain)));
		});
	}
}

/** A made-up invite token of the shape mod_invites makes (util.id.medium: 18 random bytes, base64url), for attackers. */
export const madeUpToken = (): string => randomBytes(18).toString("base64url");
