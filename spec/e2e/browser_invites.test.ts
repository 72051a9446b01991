// End to end in a real browser: the web invite flow — the invite's landing
// page (mod_invites_page), its link to the registration form
// (mod_invites_register_web), the form filled in and submitted — in Debian's
// Chromium, headless (playwright-core), against a real Prosody 0.12 and 13
// with the built module. Screenshots of every page go to spec/e2e/artifacts/
// (gitignored). How the browser is run and the pages read:
// harness/browser/browser.ts.
import type { Page } from "playwright-core";
import { fillForm, landingPage, pageKind, pageMessage, submitForm, useBrowser, type WebSession } from "../../harness/browser/browser.js";
import type { ProsodyVersion } from "../../harness/server/prosody_sources.js";
import type { Storage } from "../../harness/server/prosody_server.js";
import { uniqueName, useServer } from "../support/server_fixture.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

// mod_password_policy (loaded with the web modules) wants 8 characters or more.
const PASSWORD = "correct horse battery staple";
const EXPIRED = "Sorry, it looks like this invite code has expired!";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The browser flow does not depend on storage (web_registration.test.ts
// covers the web registration on every storage): one storage per version.
const browserMatrix: [ProsodyVersion, Storage][] = [
	["0.12", "internal"],
	["13", "sqlite"],
	["13-latest", "sqlite"],
];

describe.each(browserMatrix)("web invites in Chromium on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage, web: true });
	const browser = useBrowser();
	const sessions: WebSession[] = [];
	const connections: Connection[] = [];

	/** A new browser context for this test; screenshots named <version>-<storage>-<name>-<n>-<step>.png. */
	async function openBrowser(name: string): Promise<WebSession> {
		const web = await browser().open(`${version}-${storage}-${name}`);
		sessions.push(web);
		return web;
	}
	afterEach(async () => {
		await Promise.all(connections.splice(0).map((c) => c.close()));
		const open = sessions.splice(0);
		await Promise.all(open.map((web) => web.close()));
		// no page asked for anything off loopback
		expect(open.flatMap((web) => web.offLoopback)).toEqual([]);
	});

	const jidOf = (username: string) => `${username}@${server().domain}`;
	const formUrl = (token: string) => `http://localhost:${server().httpPort}/register?t=${token}`;

	/**
	 * Opens the invite's landing page and follows its link to the
	 * registration form; returns the landing page's URL and text. The
	 * landing page's screenshot is of the whole page only with fullLanding.
	 */
	async function openForm(web: WebSession, page: Page, token: string, fullLanding = false): Promise<{ url: string; text: string }> {
		const url = await landingPage(server(), token);
		expect(url).toBe(`http://localhost:${server().httpPort}/invites_page?${token}`);
		const landing = await page.goto(url);
		expect(landing?.status()).toBe(200);
		expect(await pageKind(page)).toBe("landing");
		const text = (await page.locator("body").innerText()).replace(/\s+/g, " ");
		await web.shot("landing", page, { viewportOnly: !fullLanding });
		await page.getByRole("link", { name: "register an account manually" }).click();
		await page.waitForURL(formUrl(token));
		expect(await pageKind(page)).toBe("form");
		expect(await page.locator('form input[name="token"]').getAttribute("value")).toBe(token);
		await web.shot("form", page);
		return { url, text };
	}

	/** Fills in and submits the form on `page`; what the answer page is and says. */
	async function register(web: WebSession, page: Page, username: string): Promise<{ kind: string; message?: string }> {
		await fillForm(page, username, PASSWORD);
		await web.shot("filled", page);
		await submitForm(page);
		const kind = await pageKind(page);
		const message = await pageMessage(page);
		await web.shot(`answer ${kind}`, page);
		return { kind, ...(message !== undefined ? { message } : {}) };
	}

	async function login(username: string): Promise<Connection> {
		const connection = await Connection.login(server(), username, PASSWORD);
		connections.push(connection);
		return connection;
	}

	test("landing page → registration form → success page: the account exists and signs in, the invite is used", async () => {
		const web = await openBrowser("flow");
		const invite = await server().createAccountInvite();
		const page = await web.page;
		const landing = await openForm(web, page, invite.token, true);
		expect(landing.text).toContain("You have been invited to chat on Prosody e2e");
		expect(landing.text).toContain("you may still register an account manually");
		const name = uniqueName("chromium");
		expect(await register(web, page, name)).toEqual({ kind: "success" });
		expect(await page.locator("input.form-control-plaintext").inputValue()).toBe(jidOf(name));
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		await login(name);
	});

	test("a contact invite with registration: after web registration the inviter and the new user are mutual contacts", async () => {
		const web = await openBrowser("contact");
		const alice = uniqueName("alice");
		await server().createUser(alice, PASSWORD);
		const invite = await server().createContactInvite(alice, true);
		const page = await web.page;
		const landing = await openForm(web, page, invite.token);
		expect(landing.text).toContain(`You have been invited to chat with ${alice} on Prosody e2e`);
		const bob = uniqueName("bob");
		expect(await register(web, page, bob)).toEqual({ kind: "success" });
		expect(await server().userExists(bob)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		const bobClient = await login(bob);
		expect((await bobClient.roster()).get(jidOf(alice))).toEqual({ subscription: "both" });
		const aliceClient = await login(alice);
		expect((await aliceClient.roster()).get(jidOf(bob))).toEqual({ subscription: "both" });
	});

	test("an invite for one username: another name gets the error page, the invite stays valid; back in the form its own name registers", async () => {
		const web = await openBrowser("bound");
		const name = uniqueName("bound");
		const invite = await server().createAccountInvite(name);
		const page = await web.page;
		await openForm(web, page, invite.token);
		const other = uniqueName("other");
		// refused in user-registering: mod_invites_register_web shows its error page with the reason
		expect(await register(web, page, other)).toEqual({ kind: "registration error", message: `This invite is only valid for the username '${name}'` });
		expect(await server().userExists(other)).toBe(false);
		expect(await server().inviteIsValid(invite.token)).toBe(true);
		// the browser's Back button: the form again
		await page.goBack();
		expect(page.url()).toBe(formUrl(invite.token));
		expect(await pageKind(page)).toBe("form");
		expect(await register(web, page, name)).toEqual({ kind: "success" });
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});

	test("a single-use invite used once is refused in the browser: a form still open, the landing page, the form's URL", async () => {
		const web = await openBrowser("single-use");
		const invite = await server().createAccountInvite();
		const first = await web.page;
		const { url: landingUrl } = await openForm(web, first, invite.token);
		// a second tab opens the same form (its URL) before the invite is used
		const second = await web.newPage();
		await second.goto(formUrl(invite.token));
		expect(await pageKind(second)).toBe("form");
		const name = uniqueName("once");
		expect(await register(web, first, name)).toEqual({ kind: "success" });
		const again = uniqueName("twice");
		// the form still open posts a used token: 303 to the invite page, which says it expired
		expect(await register(web, second, again)).toEqual({ kind: "invite expired", message: EXPIRED });
		expect(new URL(second.url()).pathname).toBe("/invites_page");
		expect(await server().userExists(again)).toBe(false);
		// the landing page of the used invite
		const landing = await second.goto(landingUrl);
		expect(landing?.status()).toBe(200);
		expect(await pageKind(second)).toBe("invite expired");
		await web.shot("landing of the used invite", second);
		// the form's URL of the used invite: 303 to the invite page
		await second.goto(formUrl(invite.token));
		expect(new URL(second.url()).pathname).toBe("/invites_page");
		expect(await pageKind(second)).toBe("invite expired");
		await web.shot("form of the used invite", second);
		expect(await server().userExists(name)).toBe(true);
	});

	test("race: In-Band Registration and web registration on one single-use invite at the same time create exactly one account", async () => {
		const web = await openBrowser("race");
		// The IQ leaves as the browser's POST leaves, then 15 ms after it.
		// Which side wins is up to timing (here: In-Band Registration, then
		// the web); either may, exactly one must.
		const timings = [0, 15];
		for (const delay of timings) {
			const invite = await server().createAccountInvite();
			const page = await web.newPage();
			await page.goto(formUrl(invite.token));
			expect(await pageKind(page)).toBe("form");
			const webName = uniqueName("raceweb");
			const ibrName = uniqueName("raceibr");
			await fillForm(page, webName, PASSWORD);
			const client = await Connection.open(server());
			connections.push(client);
			expect((await client.preauth(invite.token)).attrs.type).toBe("result");
			const posting = new Promise<void>((resolve) => page.on("request", (request) => request.method() === "POST" && resolve()));
			const submitted = submitForm(page);
			await posting;
			if (delay > 0) await sleep(delay);
			const [ibr] = await Promise.all([client.register(ibrName, PASSWORD), submitted]);
			const webKind = await pageKind(page);
			const webMessage = await pageMessage(page);
			await web.shot(`answer ${webKind}`, page);
			const ibrOk = ibr.attrs.type === "result";
			const webOk = webKind === "success";
			const created = [await server().userExists(webName), await server().userExists(ibrName)];
			// exactly one side succeeded, and only its account exists
			expect({ delay, ibrOk, webOk, created }).toEqual({ delay, ibrOk: !webOk, webOk, created: [webOk, !webOk] });
			// the loser was told: the web's error or expired page, or an IQ error
			if (!webOk) expect(["registration error", "invite expired"]).toContain(webKind);
			if (!webOk) expect(webMessage).toBeDefined();
			if (webOk) expect(ibr.attrs.type).toBe("error");
			expect(await server().inviteIsValid(invite.token)).toBe(false);
		}
	});
});
