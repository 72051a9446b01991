/**
 * The In-Band Registration form of a session that presented an invite
 * bound to a username (an account invite made for alice, or a reset invite
 * for alice) carries that username, as ejabberd's does: clients that render
 * the server's form (Dino, Monal) then show the right name.
 *
 * mod_register_ibr answers every session with one shared form, so its
 * reply to this session is filled in on the way out: a copy of the form,
 * with the username in `<username/>` and in the data form's `username`
 * field. Fields added by other modules are kept.
 */
import { st } from "./prosody_require";
import { reserved_by_token } from "./pending_invites";
import { normalise_username, reset_target } from "./invite_records";
import type { SessionStanzaEvent } from "./types/events";
import type { ValidInvite } from "./types/mod_invites";
import type { Stanza } from "./types/stanza";

/** The username the session's invite is bound to, as far as is known without reading storage. */
function invited_username(invite: ValidInvite, host: string): string | undefined {
	const reset_username = reset_target(invite);
	if (reset_username !== undefined) {
		return normalise_username(reset_username, host);
	}
	return reserved_by_token(invite.token);
}

/** A copy of the registration query with `username` filled in. */
function filled_query(query: Stanza, username: string): Stanza {
	const filled = st.clone(query);
	const username_element = filled.get_child("username");
	if (username_element !== undefined && (username_element.get_text() ?? "") === "") {
		username_element.text(username);
	}
	const form = filled.get_child("x", "jabber:x:data");
	if (form !== undefined) {
		for (const field of form.childtags("field")) {
			if (field.attr.var === "username") {
				field.remove_children("value");
				field.text_tag("value", username);
			}
		}
	}
	return filled;
}

/** Replaces the reply's registration query by a filled-in copy (the original is shared by all sessions). */
function fill_reply(reply: Stanza, username: string): void {
	const query = reply.get_child("query", "jabber:iq:register");
	if (query === undefined) {
		return;
	}
	const filled = filled_query(query, username);
	const children = reply as unknown as LuaTable<number, Stanza | string>;
	for (const i of $range(1, children.length())) {
		if (children.get(i) === query) {
			children.set(i, filled);
		}
	}
	const tags = reply.tags as unknown as LuaTable<number, Stanza>;
	for (const i of $range(1, tags.length())) {
		if (tags.get(i) === query) {
			tags.set(i, filled);
		}
	}
}

/**
 * `<iq type='get'><query xmlns='jabber:iq:register'/></iq>`, before
 * mod_register_ibr answers it: for a session with a bound invite, the
 * session's next reply to this IQ is filled in.
 */
export function prefill_registration_form(event: SessionStanzaEvent): void {
	const { origin, stanza } = event;
	const invite = origin.validated_invite;
	if (invite === undefined || stanza.attr.type !== "get" || origin.type !== "c2s_unauthed") {
		return;
	}
	const username = invited_username(invite, module.host);
	if (username === undefined) {
		return;
	}
	const id = stanza.attr.id;
	const send = origin.send;
	// Only the next stanza: mod_register_ibr answers at once.
	origin.send = (reply) => {
		origin.send = send;
		if (typeof reply !== "string" && reply.name === "iq" && reply.attr.type === "result" && reply.attr.id === id) {
			const [ok, err] = pcall(fill_reply, reply, username);
			if (!ok) {
				module.log("error", "Could not fill in the registration form: %s", err);
			}
		}
		return send(reply);
	};
}
