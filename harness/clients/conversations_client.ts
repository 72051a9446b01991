/**
 * Registration with an invite the way Conversations (Android) does it, step
 * by step and with the same stanzas, on a real stream (@xmpp/client, see
 * xmpp_client.ts). Each attempt is a new connection, as in the app, which
 * reconnects after any registration outcome; the result is the account
 * state the app would show (eu.siacs.conversations.entities.Account.State).
 *
 *   const outcome = await registerLikeConversations(server(), conversations212, { token, username, password });
 *   expect(outcome.state).toBe("REGISTRATION_SUCCESSFUL");
 *
 * Conversations 2.12 (iNPUTmice/Conversations, tag 2.12.8 = 0677ddc5,
 * src/main/java/eu/siacs/conversations/xmpp/XmppConnection.java), read for
 * this file:
 *  - processStreamFeatures: after STARTTLS, with OPTION_REGISTER set, it
 *    needs `<register xmlns='http://jabber.org/features/iq-register'/>`
 *    (else REGISTRATION_NOT_SUPPORTED) and calls register();
 *  - register(): only when the stream features have
 *    `<register xmlns='urn:xmpp:invite'/>` (Features.invite()) does it send
 *    `<iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq>`,
 *    without `to`; without the feature it goes straight to the form. Any
 *    answer but a result is REGISTRATION_INVALID_TOKEN;
 *  - sendRegistryRequest(): `<iq type='get' to='domain'><query
 *    xmlns='jabber:iq:register'/></iq>`; an error is REGISTRATION_FAILED.
 *    When the query has <username/> and <password/> it sends
 *    `<iq type='set' from='user@domain'><query xmlns='jabber:iq:register'>
 *    <username>…</username><password>…</password></query></iq>` (no `to`;
 *    the username is the one typed in the app, not the form's). Otherwise
 *    (data form with CAPTCHA, or instructions / OOB URL) it gives up here:
 *    REGISTRATION_FAILED;
 *  - registrationResponseListener: result → REGISTRATION_SUCCESSFUL;
 *    <conflict/> → REGISTRATION_CONFLICT; wait/<resource-constraint/> →
 *    REGISTRATION_PLEASE_WAIT; <not-acceptable/> with the text "The password
 *    is too weak" or "Please use a longer password." →
 *    REGISTRATION_PASSWORD_TOO_WEAK; anything else → REGISTRATION_FAILED.
 *
 * The current Conversations (XEP-0445, ibr-token) is not in the sources
 * available here (the mirror ends at 2.12.8, August 2023); its flow is taken
 * as described for this project: it needs
 * `<register xmlns='urn:xmpp:ibr-token:0'/>` after STARTTLS, sends
 * <preauth/> with `to` = the domain, and takes only `item-not-found` as an
 * invalid invite (REGISTRATION_INVALID_TOKEN; any other error
 * REGISTRATION_FAILED). Form request and submission are 2.12's.
 */
import type { Element } from "ltx";
import type { ProsodyServer } from "../server/prosody_server.js";
import { stanzaError, type StanzaError } from "./stanzas.js";
import { Connection, xml } from "./xmpp_client.js";

export type AccountState =
	| "REGISTRATION_SUCCESSFUL"
	| "REGISTRATION_CONFLICT"
	| "REGISTRATION_PLEASE_WAIT"
	| "REGISTRATION_PASSWORD_TOO_WEAK"
	| "REGISTRATION_INVALID_TOKEN"
	| "REGISTRATION_NOT_SUPPORTED"
	| "REGISTRATION_FAILED";

export interface ConversationsFlow {
	readonly name: string;
	/** The stream feature without which no <preauth/> is sent. */
	readonly inviteFeature: "urn:xmpp:ibr-token:0" | "urn:xmpp:invite";
	/** Whether <preauth/> is addressed to the domain. */
	readonly preauthTo: boolean;
	/** Whether an error answering <preauth/> means "this invite is invalid". */
	isInvalidToken(error: StanzaError): boolean;
}

export const conversationsCurrent: ConversationsFlow = {
	name: "Conversations (ibr-token, preauth to the domain)",
	inviteFeature: "urn:xmpp:ibr-token:0",
	preauthTo: true,
	isInvalidToken: (error) => error.condition === "item-not-found",
};

export const conversations212: ConversationsFlow = {
	name: "Conversations 2.12 (urn:xmpp:invite, preauth without to)",
	inviteFeature: "urn:xmpp:invite",
	preauthTo: false,
	isInvalidToken: () => true,
};

export const conversationsFlows: ConversationsFlow[] = [conversationsCurrent, conversations212];

const PASSWORD_TOO_WEAK_TEXTS = ["The password is too weak", "Please use a longer password."];

/** What the registration form (IQ get) held. */
export interface RegistrationForm {
	/** Text of <username/> ("" when empty). */
	username: string | undefined;
	hasPassword: boolean;
	/** <value/> of the data form's field var='username' (undefined when it has none). */
	formUsername: string | undefined;
}

export interface ConversationsOutcome {
	state: AccountState;
	/** Whether <preauth/> was sent (the invite feature was offered). */
	preauthSent: boolean;
	/** The error that decided the state, if any (from <preauth/>, the form request or the submission). */
	error?: StanzaError;
	form?: RegistrationForm;
}

export interface Attempt {
	token: string;
	username: string;
	password: string;
	/** Runs after the form was fetched, before it is submitted (e.g. to let the invite expire). */
	beforeSubmit?: () => Promise<void>;
}

function readForm(query: Element | undefined): RegistrationForm {
	const field = query
		?.getChild("x", "jabber:x:data")
		?.getChildren("field")
		.find((f) => f.attrs.var === "username");
	return {
		username: query?.getChild("username") === undefined ? undefined : query.getChildText("username") ?? "",
		hasPassword: query?.getChild("password") !== undefined,
		formUsername: field?.getChild("value") === undefined ? undefined : field.getChildText("value") ?? "",
	};
}

function preauthIq(flow: ConversationsFlow, domain: string, token: string): Element {
	return xml("iq", flow.preauthTo ? { type: "set", to: domain } : { type: "set" }, xml("preauth", { xmlns: "urn:xmpp:pars:0", token })) as Element;
}

function formRequestIq(domain: string): Element {
	return xml("iq", { type: "get", to: domain }, xml("query", { xmlns: "jabber:iq:register" })) as Element;
}

function submissionState(reply: Element): AccountState {
	if (reply.attrs.type === "result") return "REGISTRATION_SUCCESSFUL";
	const error = stanzaError(reply);
	if (error?.condition === "conflict") return "REGISTRATION_CONFLICT";
	if (error?.condition === "resource-constraint" && error.type === "wait") return "REGISTRATION_PLEASE_WAIT";
	if (error?.condition === "not-acceptable" && PASSWORD_TOO_WEAK_TEXTS.includes(error.text ?? "")) return "REGISTRATION_PASSWORD_TOO_WEAK";
	return "REGISTRATION_FAILED";
}

/** One registration attempt on a new connection, closed afterwards. */
export async function registerLikeConversations(server: ProsodyServer, flow: ConversationsFlow, attempt: Attempt): Promise<ConversationsOutcome> {
	const connection = await Connection.open(server);
	try {
		return await registerOn(connection, flow, attempt);
	} finally {
		await connection.close();
	}
}

/** The same, on a connection opened (STARTTLS done, not signed in) by the caller. */
export async function registerOn(connection: Connection, flow: ConversationsFlow, attempt: Attempt): Promise<ConversationsOutcome> {
	const domain = connection.server.domain;
	const features = connection.currentFeatures;
	if (features.getChild("register", "http://jabber.org/features/iq-register") === undefined) {
		return { state: "REGISTRATION_NOT_SUPPORTED", preauthSent: false };
	}
	const preauthSent = features.getChild("register", flow.inviteFeature) !== undefined;
	if (preauthSent) {
		const error = stanzaError(await connection.iq(preauthIq(flow, domain, attempt.token)));
		if (error !== undefined) {
			return { state: flow.isInvalidToken(error) ? "REGISTRATION_INVALID_TOKEN" : "REGISTRATION_FAILED", preauthSent, error };
		}
	}
	const formReply = await connection.iq(formRequestIq(domain));
	const formError = stanzaError(formReply);
	if (formError !== undefined) return { state: "REGISTRATION_FAILED", preauthSent, error: formError };
	const form = readForm(formReply.getChild("query", "jabber:iq:register"));
	if (form.username === undefined || !form.hasPassword) return { state: "REGISTRATION_FAILED", preauthSent, form };
	await attempt.beforeSubmit?.();
	const submission = xml(
		"iq",
		{ type: "set", from: `${attempt.username}@${domain}` },
		xml("query", { xmlns: "jabber:iq:register" }, xml("username", {}, attempt.username), xml("password", {}, attempt.password)),
	);
	const reply = await connection.iq(submission as Element);
	const error = stanzaError(reply);
	return { state: submissionState(reply), preauthSent, form, ...(error !== undefined ? { error } : {}) };
}

/** The registration form a session gets (IQ get), after presenting `token` (when given) as the flow does. */
export async function formLikeConversations(server: ProsodyServer, flow: ConversationsFlow, token: string | undefined): Promise<RegistrationForm> {
	const connection = await Connection.open(server);
	try {
		if (token !== undefined) {
			const error = stanzaError(await connection.iq(preauthIq(flow, server.domain, token)));
			if (error !== undefined) throw new Error(`preauth refused: ${error.condition} (${error.text})`);
		}
		const reply = await connection.iq(formRequestIq(server.domain));
		return readForm(reply.getChild("query", "jabber:iq:register"));
	} finally {
		await connection.close();
	}
}
