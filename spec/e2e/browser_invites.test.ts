// End to end in a real browser: the web invite flow — the invite's landing
// page (mod_invites_page), its link to the registration form
// (mod_invites_register_web), the form filled in and submitted — in Debian's
// Chromium, headless (playwright-core), against a real Prosody 0.12 and 13
// with the built module. Screenshots of every page go to spec/e2e/artifacts/
// (gitignored). How the browser is run and the pages read:
// spec/support/browser.ts.
import type { Page } from "playwright-core";
import { fillForm, landingPage, pageKind, pageMessage, submitForm, useBrowser, type WebSession } from "../support/browser.js";
import { serverMatrix, uniqueName, useServer } from "../support/server_fixture.js";
import { Connection } from "../support/xmpp_client.js";

// mod_password_policy (loaded with the web modules) wants 8 characters or more.
const PASSWORD = "correct horse battery staple";

describe.each(serverMatrix)("web invites in Chromium on Prosody %s with %s storage", (version, storage) => {
	const server = useServer({ version, storage, web: true });
	const browser = useBrowser();
	let web: WebSession;
	const connections: Connection[] = [];

	beforeEach(async () => {
		web = await browser().open(`${version}-${storage}`);
	});
	afterEach(async () => {
		await Promise.all(connections.splice(0).map((c) => c.close()));
		const offLoopback = web.offLoopback;
		await web.close();
		expect(offLoopback).toEqual([]);
	});

	const jidOf = (username: string) => `${username}@${server().domain}`;

	/**
	 * Opens the invite's landing page and follows its link to the
	 * registration form; returns the landing page's URL and text.
	 */
	async function openForm(page: Page, token: string): Promise<{ url: string; text: string }> {
		const url = await landingPage(server(), token);
		expect(url).toBe(`http://localhost:${server().httpPort}/invites_page?${token}`);
		const landing = await page.goto(url);
		expect(landing?.status()).toBe(200);
		expect(await pageKind(page)).toBe("landing");
		const text = (await page.locator("body").innerText()).replace(/\s+/g, " ");
		await web.shot("landing", page);
		await page.getByRole("link", { name: "register an account manually" }).click();
		await page.waitForURL(`http://localhost:${server().httpPort}/register?t=${token}`);
		expect(await pageKind(page)).toBe("form");
		expect(await page.locator('form input[name="token"]').getAttribute("value")).toBe(token);
		await web.shot("form", page);
		return { url, text };
	}

	/** Fills in and submits the form on `page`; what the answer page is and says. */
	async function register(page: Page, username: string, password = PASSWORD): Promise<{ kind: string; message?: string }> {
		await fillForm(page, username, password);
		await web.shot(`filled ${username}`, page);
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
		const invite = await server().createAccountInvite();
		const page = await web.page;
		await openForm(page, invite.token);
		const name = uniqueName("chromium");
		expect(await register(page, name)).toEqual({ kind: "success" });
		expect(await page.locator("input.form-control-plaintext").inputValue()).toBe(jidOf(name));
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		await login(name);
	});

	test("a contact invite with registration: after web registration the inviter and the new user are mutual contacts", async () => {
		const alice = uniqueName("alice");
		await server().createUser(alice, PASSWORD);
		const invite = await server().createContactInvite(alice, true);
		const page = await web.page;
		const landing = await openForm(page, invite.token);
		expect(landing.text).toContain(`You have been invited to chat with ${alice} on Prosody e2e`);
		const bob = uniqueName("bob");
		expect(await register(page, bob)).toEqual({ kind: "success" });
		expect(await server().userExists(bob)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
		const bobClient = await login(bob);
		expect((await bobClient.roster()).get(jidOf(alice))).toEqual({ subscription: "both" });
		const aliceClient = await login(alice);
		expect((await aliceClient.roster()).get(jidOf(bob))).toEqual({ subscription: "both" });
	});

	test("an invite for one username: the form refuses another name with an error, then registers its own", async () => {
		const name = uniqueName("bound");
		const invite = await server().createAccountInvite(name);
		const page = await web.page;
		await openForm(page, invite.token);
		const other = uniqueName("other");
		expect(await register(page, other)).toEqual({ kind: "form", message: `This invite is only valid for the username '${name}'` });
		expect(await server().userExists(other)).toBe(false);
		expect(await server().inviteIsValid(invite.token)).toBe(true);
		// the form is shown again, with the token: try again with the invite's own name
		expect(await register(page, name)).toEqual({ kind: "success" });
		expect(await server().userExists(name)).toBe(true);
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});

	test("a single-use invite used once is refused in the browser: a form still open, the landing page, the form's URL", async () => {
		const invite = await server().createAccountInvite();
		const first = await web.page;
		const { url: landingUrl } = await openForm(first, invite.token);
		// a second tab opens the same form before the invite is used
		const second = await web.newPage();
		await openForm(second, invite.token);
		const name = uniqueName("once");
		expect(await register(first, name)).toEqual({ kind: "success" });
		const again = uniqueName("twice");
		// the form still open posts a used token: 303 to the invite page, which says it expired
		expect(await register(second, again)).toEqual({ kind: "invite expired", message: "Sorry, it looks like this invite code has expired!" });
		expect(new URL(second.url()).pathname).toBe("/invites_page");
		expect(await server().userExists(again)).toBe(false);
		// the landing page of the used invite
		const landing = await second.goto(landingUrl);
		expect(landing?.status()).toBe(200);
		expect(await pageKind(second)).toBe("invite expired");
		await web.shot("landing of a used invite", second);
		// the registration page of the used invite
		await second.goto(`http://localhost:${server().httpPort}/register?t=${invite.token}`);
		expect(new URL(second.url()).pathname).toBe("/invites_page");
		expect(await pageKind(second)).toBe("invite expired");
		await web.shot("form of a used invite", second);
		expect(await server().userExists(name)).toBe(true);
	});

	test("race: In-Band Registration and web registration on one single-use invite at the same time create exactly one account", async () => {
		for (let round = 0; round < 3; round++) {
			const invite = await server().createAccountInvite();
			const page = round === 0 ? await web.page : await web.newPage();
			await openForm(page, invite.token);
			const webName = uniqueName("raceweb");
			const ibrName = uniqueName("raceibr");
			await fillForm(page, webName, PASSWORD);
			const client = await Connection.open(server());
			connections.push(client);
			expect((await client.preauth(invite.token)).attrs.type).toBe("result");
			const [ibr] = await Promise.all([client.register(ibrName, PASSWORD), submitForm(page)]);
			const webKind = await pageKind(page);
			const webMessage = await pageMessage(page);
			await web.shot(`race answer ${webKind}`, page);
			const ibrOk = ibr.attrs.type === "result";
			if (process.env.RACE_LOG) console.log(`RACE ${version} ${storage} ${round}: ibr=${ibr.attrs.type} ${ibr.getChild("error")?.toString() ?? ""} web=${webKind} ${webMessage ?? ""}`);
			const webOk = webKind === "success";
			const created = [await server().userExists(webName), await server().userExists(ibrName)];
			expect({ round, ibrOk, webOk, created }).toEqual({ round, ibrOk: !webOk, webOk, created: [webOk, !webOk] });
			if (!webOk) expect(["registration error", "invite expired"]).toContain(webKind);
			if (!webOk) expect(webMessage).toBeDefined();
			expect(await server().inviteIsValid(invite.token)).toBe(false);
		}
	});
});
