// End to end: the rock `npm run pack` makes, installed as admins install it,
// with `prosodyctl --config <config> install <rock>`, into a real Prosody
// 0.12 and 13 (installer_plugin_path in the server's data folder; no copy of
// ours in plugin_paths), is the module that runs; `prosodyctl remove` takes
// it out again, and the stock module comes back.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { launchers } from "../../harness/server/prosody_server.js";
import { prosodySource, serverVersions, repoRoot, type ProsodyVersion } from "../../harness/server/prosody_sources.js";
import { useServer } from "../support/server_fixture.js";
import { stanzaError } from "../../harness/clients/stanzas.js";
import { Connection } from "../../harness/clients/xmpp_client.js";

const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { name: string; version: string };
const rockVersion = `${pkg.version}-1`;
const built = path.join(repoRoot, "dist-lua/mod_invites_register.lua");
/** installer_plugin_path, relative to the server's data folder. */
const INSTALLER_DIR = "custom_plugins";

// prosodyctl runs Debian's luarocks; these tests need nothing from the
// network. Where the machine lets us (a network namespace), they prove it.
const offline = spawnSync("unshare", ["-rn", "true"]).status === 0 ? ["unshare", "-rn"] : [];

interface Run {
	code: number;
	output: string;
}

/** prosodyctl of that version with the server's config, HOME an empty folder (nothing may be written there). */
async function prosodyctl(version: ProsodyVersion, configFile: string, args: string[], home: string, isolate: string[] = []): Promise<Run> {
	const [command, ...rest] = [...isolate, launchers(version).prosodyctl, "--config", configFile, ...args];
	return new Promise((resolve) => {
		execFile(command, rest, { cwd: os.tmpdir(), env: { ...process.env, HOME: home } }, (error, stdout, stderr) => {
			const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
			resolve({ code, output: `${stdout}${stderr}` });
		});
	});
}

/** Every file under dir, as paths relative to it, sorted. */
function filesUnder(dir: string): string[] {
	if (!existsSync(dir)) return [];
	return (readdirSync(dir, { recursive: true }) as string[]).filter((file) => statSync(path.join(dir, file)).isFile()).sort();
}

let work: string;
let rock: string;
beforeAll(() => {
	// The same script as `npm run pack`, into a folder of this test's own.
	work = mkdtempSync(path.join(os.tmpdir(), "prosodyctl-install-"));
	execFileSync(process.execPath, [path.join(repoRoot, "tools/pack-rock.mjs"), "--out", path.join(work, "rock")], { cwd: repoRoot, stdio: "pipe" });
	rock = path.join(work, "rock", `${pkg.name}-${rockVersion}.all.rock`);
});
afterAll(() => {
	rmSync(work, { recursive: true, force: true });
});

describe.each(serverVersions)("prosodyctl install and remove on Prosody %s", (version) => {
	let home: string;
	let install: Run;
	let dataBefore: string[];
	let dataAfter: string[];
	const server = useServer({
		version,
		module: "installed",
		installerPluginPath: INSTALLER_DIR,
		beforeStart: async ({ configFile, dataDir }) => {
			home = mkdtempSync(path.join(work, "home-"));
			dataBefore = readdirSync(dataDir).sort();
			install = await prosodyctl(version, configFile, ["install", rock], home, offline);
			dataAfter = readdirSync(dataDir).sort();
		},
	});
	const connections: Connection[] = [];
	afterEach(async () => {
		await Promise.all(connections.splice(0).map((c) => c.close()));
	});
	async function open(): Promise<Connection> {
		const connection = await Connection.open(server());
		connections.push(connection);
		return connection;
	}
	const tree = () => path.join(server().dataDir, INSTALLER_DIR);
	/** "5.4": the Lua Prosody runs on, which prosodyctl passes to luarocks (--lua-version). */
	const luaVersion = async () => (await server().lua<string>("_VERSION")).replace("Lua ", "");

	test("installs the rock into installer_plugin_path only, offline, as one module in share/lua/5.x", async () => {
		expect(install.output).toContain(`Installing ${rock} in ${tree()}`);
		// 13.0.1's prosodyctl exits 0 also when luarocks fails: the output and the files tell.
		expect(install.output).toContain(`${pkg.name} ${rockVersion} is now installed in ${tree()}`);
		expect(install.code).toBe(0);
		const lua = await luaVersion();
		const rocks = `lib/luarocks/rocks-${lua}/${pkg.name}/${rockVersion}`;
		expect(filesUnder(tree())).toEqual([
			`lib/luarocks/rocks-${lua}/manifest`,
			`${rocks}/${pkg.name}-${rockVersion}.rockspec`,
			`${rocks}/rock_manifest`,
			`share/lua/${lua}/mod_invites_register.lua`,
		]);
		expect(readFileSync(path.join(tree(), `share/lua/${lua}/mod_invites_register.lua`), "utf8")).toBe(readFileSync(built, "utf8"));
		// Nothing else in the data folder, nothing in HOME (no cache, no config).
		expect(dataAfter).toEqual([...dataBefore, INSTALLER_DIR].sort());
		expect(readdirSync(home)).toEqual([]);
		const list = await prosodyctl(version, server().configFile, ["list"], home, offline);
		expect(list.code).toBe(0);
		expect(list.output).toMatch(new RegExp(`^${pkg.name}\\s*\\n\\s*${rockVersion.replace(/\./g, "\\.")} \\(installed\\) - ${tree()}`, "m"));
	});

	test("the server runs the installed module: its path, its manifest entry, and its answers", async () => {
		const lua = await luaVersion();
		expect(await server().lua<string>("host.modules.invites_register.module.path")).toBe(path.join(tree(), `share/lua/${lua}/mod_invites_register.lua`));
		// Prosody's module manager found it in the tree's LuaRocks manifest.
		expect(await server().lua<string>("host.modules.invites_register.module.resource_path")).toBe(path.join(tree(), `lib/luarocks/rocks-${lua}/${pkg.name}/${rockVersion}`));
		// The stock module answers an unknown token with forbidden.
		const client = await open();
		expect(stanzaError(await client.preauth("NoSuchTokenEverExisted00"))).toEqual({
			type: "cancel",
			condition: "item-not-found",
			text: "The invite token is invalid or has already been used",
		});
		const invite = await server().createAccountInvite();
		expect((await client.preauth(invite.token)).attrs.type).toBe("result");
		expect((await client.register("rocky", "correct horse")).attrs.type).toBe("result");
		await client.login("rocky", "correct horse");
		expect(await server().inviteIsValid(invite.token)).toBe(false);
	});

	test("prosodyctl remove takes it out of the tree; reloaded, the stock module runs", async () => {
		const lua = await luaVersion();
		const removed = await prosodyctl(version, server().configFile, ["remove", pkg.name], home, offline);
		expect(removed.output).toContain(`Removing ${pkg.name} from ${tree()}`);
		expect(removed.output).toContain("Removal successful.");
		expect(removed.code).toBe(0);
		expect(filesUnder(tree())).toEqual([`lib/luarocks/rocks-${lua}/manifest`]);
		expect(readFileSync(path.join(tree(), `lib/luarocks/rocks-${lua}/manifest`), "utf8")).not.toContain(pkg.name);
		expect(readdirSync(home)).toEqual([]);

		// As admins reload it after an upgrade or removal (or restart Prosody).
		const reload = await prosodyctl(version, server().configFile, ["shell", "module", "reload", "invites_register", server().domain], home);
		expect(reload.output).toMatch(/Module reloaded on 1 host/);
		expect(reload.code).toBe(0);
		expect(await server().lua<string>("host.modules.invites_register.module.path")).toBe(path.join(prosodySource(version), "modules/mod_invites_register.lua"));
		const client = await open();
		expect(stanzaError(await client.preauth("NoSuchTokenEverExisted00"))?.condition).toBe("forbidden");
	});
});

// The committed LuaRocks server (rocks/, written by `npm run pack`, checked
// by CI to equal a fresh pack): an admin with a checkout and no Node.js
// installs the module by name.
describe.each(serverVersions)("prosodyctl install by name from the committed rocks/ folder on Prosody %s", (version) => {
	let home: string;
	let install: Run;
	const server = useServer({
		version,
		module: "installed",
		installerPluginPath: INSTALLER_DIR,
		beforeStart: async ({ configFile }) => {
			home = mkdtempSync(path.join(work, "home-"));
			install = await prosodyctl(version, configFile, ["install", `--server=${path.join(repoRoot, "rocks")}`, pkg.name], home, offline);
		},
	});

	test("installs the current module, offline, and the server runs it", async () => {
		const tree = path.join(server().dataDir, INSTALLER_DIR);
		expect(install.output).toContain(`${pkg.name} ${rockVersion} is now installed in ${tree}`);
		expect(install.code).toBe(0);
		const lua = (await server().lua<string>("_VERSION")).replace("Lua ", "");
		expect(readFileSync(path.join(tree, `share/lua/${lua}/mod_invites_register.lua`), "utf8")).toBe(readFileSync(built, "utf8"));
		expect(await server().lua<string>("host.modules.invites_register.module.path")).toBe(path.join(tree, `share/lua/${lua}/mod_invites_register.lua`));
		const client = await Connection.open(server());
		try {
			expect(stanzaError(await client.preauth("NoSuchTokenEverExisted00"))?.condition).toBe("item-not-found");
		} finally {
			await client.close();
		}
		expect(readdirSync(home)).toEqual([]);
	});
});
