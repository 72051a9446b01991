/**
 * Registering through mod_invites_register_web (community module, Debian's
 * prosody-modules) as a browser does: GET the registration page of a token,
 * read its form, fill it in and POST it back.
 *
 *   const result = await registerOnWeb(server, invite.token, "alice", "correct horse battery");
 *   // { status: 200, successful: true } or { status: 200, successful: false, errorText: "…" }
 *
 * What the module serves (prosody-modules 0.0~hg20250402, the same on
 * Prosody 0.12 and 13):
 *  - GET /register?t=<token> (its http path, default_path "register"): the
 *    page html/register.html with
 *    `<form method="post">` (no action: it posts to the same URL, query
 *    included) holding `user` (text), `password` (password), hidden `token`
 *    and, with ?c=<app id>, hidden `app_id`. No password confirmation. An
 *    unknown, used or expired token answers 303 to the invite page
 *    (mod_invites_page, /invites_page?<query>), which says the invite
 *    expired.
 *  - POST: checks in this order, each answered with the form again and the
 *    message in `<div class="alert alert-warning" role="alert">`: a field
 *    empty ("Please fill in all fields."), invalid username ("This username
 *    contains invalid characters."), existing account ("This username is
 *    already in use."), password policy (mod_password_policy's text). Then
 *    it fires user-registering with `validated_invite` (no session); a
 *    refusal renders html/register_error.html ("Registration error") with
 *    the event's `reason` (not `error.text`) in a <p>, or "Registration is
 *    not allowed." without one. Success renders html/register_success.html
 *    ("Congratulations!", the new JID). All with status 200. A token that is
 *    no longer valid when POSTed answers 303 as above.
 */
import type { ProsodyServer } from "../server/prosody_server.js";

export interface WebRegistrationResult {
	/** HTTP status of the answer to the POST (or of the GET, when it did not give a form). */
	status: number;
	/** The success page ("Congratulations!") was shown. */
	successful: boolean;
	/** The message the page shows: the form's alert, or the error page's text. */
	errorText?: string;
	/** The path a 303 pointed to (invalid token: "/invites_page"); its query, which holds the token, is left out. */
	redirectedTo?: string;
}

export interface HtmlForm {
	method: string;
	/** Absolute URL the form is submitted to. */
	action: string;
	inputs: { type: string; name: string; value: string }[];
}

function decodeEntities(text: string): string {
	return text.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
		const named: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };
		if (entity[0] !== "#") return named[entity.toLowerCase()];
		return String.fromCodePoint(entity[1].toLowerCase() === "x" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10));
	});
}

function attributes(tag: string): Record<string, string> {
	const attrs: Record<string, string> = {};
	for (const match of tag.matchAll(/([\w:-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
		attrs[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? "");
	}
	return attrs;
}

/** The first <form> of a page and its <input>s, as a browser would submit them. */
export function parseForm(html: string, pageUrl: string): HtmlForm | undefined {
	const form = html.match(/<form\b([^>]*)>([\s\S]*?)<\/form>/i);
	if (!form) return undefined;
	const formAttrs = attributes(form[1]);
	const inputs = [...form[2].matchAll(/<input\b([^>]*)>/gi)].map((m) => attributes(m[1]));
	return {
		method: (formAttrs.method ?? "get").toLowerCase(),
		action: new URL(formAttrs.action ?? "", pageUrl).href,
		inputs: inputs.filter((a) => a.name !== undefined).map((a) => ({ type: (a.type ?? "text").toLowerCase(), name: a.name, value: a.value ?? "" })),
	};
}

function textOf(fragment: string): string {
	return decodeEntities(fragment.replace(/<[^>]*>/g, " "))
		.replace(/\s+/g, " ")
		.trim();
}

/** What the page says went wrong: an alert on the form, or the error page's message. */
export function pageError(html: string): string | undefined {
	const alert = html.match(/<div class="alert [^"]*" role="alert">([\s\S]*?)<\/div>/);
	if (alert) return textOf(alert[1]);
	const errorPage = html.match(/<h5 class="card-title">(?:Registration error|Invite expired)<\/h5>\s*<p>([\s\S]*?)<\/p>/);
	if (errorPage) return textOf(errorPage[1]);
	return undefined;
}

/** The registration page of an invite token (what an invite page links to). */
export function registrationPageUrl(server: ProsodyServer, token: string): string {
	return `${server.httpUrl}/register?t=${encodeURIComponent(token)}`;
}

/**
 * Registers `username` with `password` through the web form of `token`:
 * every field the form has is sent (hidden ones with their values), the
 * username in its text field, the password in every password field.
 */
export async function registerOnWeb(server: ProsodyServer, token: string, username: string, password: string): Promise<WebRegistrationResult> {
	const pageUrl = registrationPageUrl(server, token);
	const page = await fetch(pageUrl, { redirect: "manual" });
	const html = await page.text();
	const form = page.status === 200 ? parseForm(html, pageUrl) : undefined;
	if (!form) {
		return { status: page.status, successful: false, ...answerDetails(page, html) };
	}
	const body = new URLSearchParams();
	for (const input of form.inputs) {
		if (input.type === "password") body.append(input.name, password);
		else if (input.type === "text" || input.type === "email") body.append(input.name, username);
		else if (input.type !== "submit" && input.type !== "button") body.append(input.name, input.value);
	}
	const answer = await fetch(form.action, {
		method: form.method.toUpperCase(),
		headers: { "content-type": "application/x-www-form-urlencoded" },
		body: body.toString(),
		redirect: "manual",
	});
	const result = await answer.text();
	const successful = answer.status === 200 && /<h5 class="card-title">Congratulations!<\/h5>/.test(result);
	return { status: answer.status, successful, ...(successful ? {} : answerDetails(answer, result)) };
}

function answerDetails(response: Response, html: string): { errorText?: string; redirectedTo?: string } {
	const errorText = pageError(html);
	const location = response.headers.get("location");
	return {
		...(errorText !== undefined ? { errorText } : {}),
		...(location !== null ? { redirectedTo: new URL(location, response.url).pathname } : {}),
	};
}
