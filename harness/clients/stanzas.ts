/**
 * Reading replies in tests: `stanzaError(reply)` gives the error's type,
 * condition and text (RFC 6120 §8.3) of an error stanza.
 */
import type { Element } from "ltx";

const STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas";

export interface StanzaError {
	type: string | undefined;
	condition: string | undefined;
	text: string | undefined;
}

export function stanzaError(stanza: Element | undefined): StanzaError | undefined {
	if (stanza === undefined || stanza.attrs.type !== "error") return undefined;
	const error = stanza.getChild("error");
	if (!error) return { type: undefined, condition: undefined, text: undefined };
	const condition = error.children.find(
		(child): child is Element => typeof child !== "string" && child.attrs.xmlns === STANZAS_NS && child.name !== "text",
	);
	return {
		type: error.attrs.type,
		condition: condition?.name,
		text: error.getChildText("text", STANZAS_NS) ?? undefined,
	};
}

/** Elements named `name` (and of type `type`, when given) among `stanzas`. */
export function named(stanzas: Element[], name: string, type?: string): Element[] {
	return stanzas.filter((s) => s.name === name && (type === undefined || s.attrs.type === type));
}
