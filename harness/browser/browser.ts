/**
 * A real browser for the end-to-end tests of the web invite flow: Debian's
 * Chromium (/usr/bin/chromium), headless, driven by playwright-core (no
 * browser is ever downloaded), kept off the network.
 *
 *   const browser = useBrowser();          // one per describe: beforeAll / afterAll
 *   const web = await browser().open("13-internal-flow");  // a new context (fresh profile state) per test
 *   const page = await web.page;
 *   await page.goto(await landingPage(server(), invite.token));
 *   await web.shot("landing");             // spec/e2e/artifacts/13-internal-flow-01-landing.png
 *   ...
 *   await web.close();                     // also closes its pages
 *
 * Off the network: Chromium's own traffic is switched off with flags
 * (background networking, component updates, sync, QUIC…), no host name
 * but localhost resolves (--host-resolver-rules), and every request a page
 * makes to anything but loopback is aborted and recorded in
 * `web.offLoopback`, which the tests expect to stay empty.
 *
 * What the pages are (Debian's prosody-modules, the same on Prosody 0.12
 * and 13; see also web_registration.ts):
 *  - mod_invites_page: an invite that allows registration gets
 *    `landing_page` = <its http_url>?<token>, made when the invite is
 *    created (hook invite-created) and stored with it, e.g.
 *    http://localhost:<http port>/invites_page?<token> — host "localhost"
 *    (the VirtualHost), not 127.0.0.1. The page lists apps
 *    (mod_register_apps) and ends with "register an account manually", a
 *    link to register?t=<token> (relative: /register?t=<token>). A token
 *    that is not valid gives the "Invite expired" page (status 200).
 *  - mod_invites_register_web: see web_registration.ts.
 *  Their stylesheet and scripts under /share/ (bootstrap 4 and jquery,
 *  which the community mod_http_libjs serves from Debian's libjs-* packages;
 *  neither is set up here) answer 404: the pages are unstyled.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { DOMAIN, type ProsodyServer } from "../server/prosody_server.js";
import { repoRoot } from "../server/prosody_sources.js";

export const CHROMIUM = "/usr/bin/chromium";

/** Where screenshots go (gitignored): test artifacts, never committed. */
export const artifactsDir = path.join(repoRoot, "spec/e2e/artifacts");

/** Flags that keep Chromium off the network (and quiet) besides the pages' own loopback requests. */
export const chromiumArgs = [
	"--no-sandbox", // the tests may run as root
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-default-apps",
	"--metrics-recording-only",
	"--no-default-browser-check",
	"--disable-domain-reliability",
	"--disable-breakpad",
	// nothing but localhost resolves (IP literals such as 127.0.0.1 need no resolution)
	"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
];

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

function isLoopback(url: string): boolean {
	try {
		const parsed = new URL(url);
		if (parsed.protocol === "data:" || parsed.protocol === "blob:" || parsed.protocol === "about:") return true;
		return LOOPBACK_HOSTS.has(parsed.hostname);
	} catch {
		return false;
	}
}

function slug(text: string): string {
	return text
		.toLowerCase()
		.replace(/[^a-z0-9.]+/g, "-")
		.replace(/^-+|-+$/g, "")
		.slice(0, 120);
}

/** One test's browser context: its pages, its screenshots, the requests it was refused off loopback. */
export class WebSession {
	/** URLs a page asked for that are not on loopback (aborted). */
	readonly offLoopback: string[] = [];
	private shots = 0;
	readonly page: Promise<Page>;

	constructor(
		readonly context: BrowserContext,
		/** File name prefix of the screenshots: the test's name. */
		private readonly name: string,
	) {
		this.page = context.newPage();
	}

	/** Another tab in this context. */
	newPage(): Promise<Page> {
		return this.context.newPage();
	}

	/**
	 * Saves a screenshot of `page` (default: the first) as
	 * spec/e2e/artifacts/<name>-<n>-<step>.png: the whole page, or with
	 * `viewportOnly` what the window shows (the unstyled landing page is
	 * some 3,600 pixels high, and a full shot of it takes about 0.35 s).
	 */
	async shot(step: string, page?: Page, options: { viewportOnly?: boolean } = {}): Promise<string> {
		this.shots += 1;
		const file = path.join(artifactsDir, `${this.name}-${String(this.shots).padStart(2, "0")}-${slug(step)}.png`);
		await (page ?? (await this.page)).screenshot({ path: file, fullPage: !options.viewportOnly });
		return file;
	}

	async close(): Promise<void> {
		await this.context.close();
	}
}

/** Launches Chromium before the describe's tests and closes it after them. */
export function useBrowser(): () => { open(name: string): Promise<WebSession> } {
	let browser: Browser | undefined;
	beforeAll(async () => {
		mkdirSync(artifactsDir, { recursive: true });
		browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: chromiumArgs });
	});
	afterAll(async () => {
		await browser?.close();
	});
	return () => ({
		async open(name: string): Promise<WebSession> {
			if (!browser) throw new Error("browser not started");
			const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
			context.setDefaultTimeout(10_000);
			const session = new WebSession(context, slug(name));
			await context.route("**/*", async (route) => {
				const url = route.request().url();
				if (isLoopback(url)) return route.continue();
				session.offLoopback.push(url);
				return route.abort("blockedbyclient");
			});
			return session;
		},
	});
}

/** The invite's landing page (mod_invites_page), as stored with the invite when it was created. */
export async function landingPage(server: ProsodyServer, token: string): Promise<string> {
	const url = await server.lua<string | null>(
		`(function () local i = require "core.storagemanager".open(${JSON.stringify(DOMAIN)}, "invite_token", "map"):get(nil, ${JSON.stringify(token)}); return i and i.landing_page end)()`,
	);
	if (typeof url !== "string") throw new Error(`invite ${token} has no landing page`);
	return url;
}

/** What a page of the invite flow is, from its card title. */
export type PageKind = "landing" | "form" | "success" | "registration error" | "invite expired" | "other";

export async function pageKind(page: Page): Promise<PageKind> {
	const titles = await page.locator("h5.card-title").allInnerTexts();
	const title = titles.map((t) => t.trim());
	if (title.includes("Congratulations!")) return "success";
	if (title.includes("Registration error")) return "registration error";
	if (title.includes("Invite expired")) return "invite expired";
	if (title.includes("Create an account")) return "form";
	if (title.includes("Get started")) return "landing";
	return "other";
}

/** The form's alert (mod_invites_register_web), or the error page's message, if any. */
export async function pageMessage(page: Page): Promise<string | undefined> {
	const alert = page.locator('div.alert[role="alert"]');
	if ((await alert.count()) > 0) return (await alert.first().innerText()).replace(/\s+/g, " ").trim();
	const kind = await pageKind(page);
	if (kind === "registration error" || kind === "invite expired") {
		return (await page.locator("h5.card-title + p").first().innerText()).replace(/\s+/g, " ").trim();
	}
	return undefined;
}

/** Fills in the registration form on `page` (does not submit). */
export async function fillForm(page: Page, username: string, password: string): Promise<void> {
	await page.locator('form input[name="user"]').fill(username);
	await page.locator('form input[name="password"]').fill(password);
}

/** Submits the form on `page` and waits for the answer page to load. */
export async function submitForm(page: Page): Promise<void> {
	await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.getByRole("button", { name: "Submit" }).click()]);
}
