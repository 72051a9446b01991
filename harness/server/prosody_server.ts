/**
 * A real Prosody for end-to-end tests: started on loopback on a free port,
 * with a generated config and a temporary data folder, loading the built
 * dist-lua/mod_invites_register.lua through plugin_paths (so that it
 * replaces the stock module), and stopped cleanly — also when a test fails
 * or the test process exits.
 *
 *   const server = await ProsodyServer.start({ version: "13", storage: "sqlite" });
 *   const invite = await server.createAccountInvite();
 *   ...
 *   await server.stop();
 *
 * Prosody 0.12.3 is Debian bookworm's package (/usr/bin/prosody, or on trixie
 * .cache/prosody-0.12); 13 and 13-latest run from
 * .cache/prosody-13 and .cache/prosody-13-latest (scripts/setup-prosody.sh). State is created and
 * checked through `prosodyctl shell`, whose ">" runs Lua in the server.
 *
 * `web: true` adds web registration: mod_http on a second free loopback
 * port (http only) and the community modules mod_invites_page,
 * mod_invites_register_web, mod_register_apps and mod_password_policy
 * (Debian's prosody-modules, .cache/prosody-modules), loaded through
 * plugin_paths after dist-lua/. `server.httpUrl` is where they answer
 * (see web_registration.ts).
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { builtModuleDir, communityModulesDir, prosodySource, repoRoot, type ProsodyVersion } from "./prosody_sources.js";

import { postgresDatabase, type PostgresDatabase } from "./postgres.js";
import { freePort } from "./free_port.js";

/** Prosody modules only the tests and benchmarks load (mod_storage_test). */
const testPluginsDir = path.join(repoRoot, "harness/server/prosody_plugins");

const execFileAsync = promisify(execFile);

/** The unit of CPU times in /proc/<pid>/stat. */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** "internal": files; "sqlite" and "postgres": Prosody's SQL storage (PostgreSQL in a throwaway cluster: postgres.ts). */
export type Storage = "internal" | "sqlite" | "postgres";
/** The storages every end-to-end suite runs on. */
export const storages: Storage[] = ["internal", "sqlite"];

/** A value written into the Lua config file. */
export type LuaLiteral = string | number | boolean | LuaLiteral[] | { [key: string]: LuaLiteral };

export interface ServerOptions {
	version: ProsodyVersion;
	storage?: Storage;
	/**
	 * "built": our dist-lua/ module through plugin_paths; "stock": Prosody's own;
	 * "installed": none of ours in plugin_paths, so the one `prosodyctl install`
	 * put into installerPluginPath (searched first), else Prosody's own.
	 */
	module?: "built" | "stock" | "installed";
	/** With module "built": the folder plugin_paths lists instead of dist-lua/ (e.g. an earlier build). */
	pluginDir?: string;
	/** Extra options for the VirtualHost. */
	config?: { [option: string]: LuaLiteral };
	/**
	 * Global options, in place of the harness's own of the same name, e.g.
	 * `s2s_ports` and `modules_disabled = {}` for a server that speaks to
	 * other servers (bench/s2s_attacker.ts).
	 */
	global?: { [option: string]: LuaLiteral };
	/** Prosody modules to load besides the harness's (global modules_enabled), e.g. "dialback". */
	modules?: string[];
	/** The addresses c2s listens on (default 127.0.0.1 only). */
	interfaces?: string[];
	/** The port to listen on (default: a free one). */
	port?: number;
	/** Where data and logs go (default: a new temporary folder, removed on stop). */
	dataDir?: string;
	/**
	 * Web registration (mod_invites_register_web and what it needs) over
	 * http on another free loopback port. mod_password_policy then also
	 * checks In-Band Registration passwords: at least 8 characters, not
	 * containing the username.
	 */
	web?: boolean;
	/**
	 * Wrap the storage in harness/server/prosody_plugins/mod_storage_test.lua:
	 * every store operation counted (storeOperations()), chosen ones made
	 * slow or failing (storageFault()).
	 */
	testStorage?: boolean;
	/**
	 * Prosody's statistics (`statistics = "internal"`, collected when
	 * scraped) and mod_http_openmetrics over http on a free loopback port:
	 * `server.metrics()` reads /metrics.
	 */
	metrics?: boolean;
	/** Community modules (Debian's prosody-modules) to load on the VirtualHost besides the web ones, e.g. "invites_tracking". */
	communityModules?: string[];
	/**
	 * installer_plugin_path, the LuaRocks tree of `prosodyctl install`, searched
	 * before plugin_paths; relative to dataDir. Default: Prosody's own
	 * ("custom_plugins" in its compiled-in data folder, e.g. /var/lib/prosody).
	 */
	installerPluginPath?: string;
	/** Runs after the config file is written, before Prosody starts (e.g. `prosodyctl install`). */
	beforeStart?: (files: { configFile: string; dataDir: string }) => Promise<void> | void;
}

/** The community modules `web: true` loads on the VirtualHost. */
export const webModules = ["http", "invites_page", "invites_register_web", "register_apps", "password_policy"];

export const DOMAIN = "localhost";
const TLS_DIR = path.join(repoRoot, ".cache/tls");

function luaLiteral(value: LuaLiteral): string {
	if (typeof value === "string") return JSON.stringify(value);
	if (typeof value === "number" || typeof value === "boolean") return String(value);
	if (Array.isArray(value)) return `{ ${value.map(luaLiteral).join(", ")} }`;
	return `{ ${Object.entries(value).map(([k, v]) => `[${JSON.stringify(k)}] = ${luaLiteral(v)}`).join(", ")} }`;
}

async function acceptsConnections(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect(port, "127.0.0.1");
		socket.once("connect", () => {
			socket.destroy();
			resolve(true);
		});
		socket.once("error", () => resolve(false));
	});
}

/** The launchers: Debian's for an installed 0.12, the unpacked copies' for the others. */
export function launchers(version: ProsodyVersion): { prosody: string; prosodyctl: string } {
	if (prosodySource(version) === "/usr/lib/prosody") return { prosody: "/usr/bin/prosody", prosodyctl: "/usr/bin/prosodyctl" };
	const bin = path.join(path.dirname(path.dirname(path.dirname(prosodySource(version)))), "bin");
	return { prosody: path.join(bin, "prosody"), prosodyctl: path.join(bin, "prosodyctl") };
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
	for (const child of running) child.kill("SIGKILL");
});

export class ProsodyServer {
	private exited: Promise<number | null>;

	private constructor(
		readonly options: Required<Omit<ServerOptions, "config" | "port" | "dataDir" | "pluginDir" | "installerPluginPath" | "beforeStart" | "communityModules" | "testStorage" | "metrics" | "global" | "interfaces" | "modules">>,
		readonly port: number,
		/** The http port (web: true), else undefined. */
		readonly httpPort: number | undefined,
		readonly dataDir: string,
		readonly configFile: string,
		private readonly process: ChildProcess,
		private readonly ownsDataDir: boolean,
	) {
		this.exited = new Promise((resolve) => process.once("exit", (code) => resolve(code)));
	}

	get domain(): string {
		return DOMAIN;
	}

	/** Base URL of the web modules (web: true), e.g. http://127.0.0.1:41234 — /register, /invites_page. */
	get httpUrl(): string {
		if (this.httpPort === undefined) throw new Error("this server was started without web: true");
		return `http://127.0.0.1:${this.httpPort}`;
	}

	/**
	 * CPU time (user + system) the server process has used so far, from
	 * /proc (Linux). The launcher execs Lua, so the child is the server.
	 */
	cpuSeconds(): number {
		const stat = readFileSync(`/proc/${this.process.pid}/stat`, "utf8");
		// Fields after the command name, which is in parentheses and may hold spaces.
		const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
		const [utime, stime] = [Number(fields[11]), Number(fields[12])];
		return (utime + stime) / CLOCK_TICKS;
	}

	/** The server CPU (ms) of one admin shell command, less that of a no-op shell call made just before. */
	async shellCpuMs(command: string): Promise<number> {
		let cpu = this.cpuSeconds();
		await this.lua("1");
		const noop = this.cpuSeconds() - cpu;
		cpu = this.cpuSeconds();
		await this.shell(command);
		return Math.max(0, (this.cpuSeconds() - cpu - noop) * 1000);
	}

	get logFile(): string {
		return path.join(this.dataDir, "prosody.log");
	}

	static async start(options: ServerOptions): Promise<ProsodyServer> {
		const version = options.version;
		const storage = options.storage ?? "internal";
		const module = options.module ?? "built";
		const web = options.web ?? false;
		prosodySource(version); // fails with a clear message when setup has not run
		if (!existsSync(path.join(TLS_DIR, "localhost.crt"))) throw new Error("No test certificate: run scripts/setup-prosody.sh");
		if (web && !existsSync(path.join(communityModulesDir(version), "mod_invites_register_web/mod_invites_register_web.lua"))) {
			throw new Error(`No community modules in ${communityModulesDir(version)}: run scripts/setup-prosody.sh`);
		}
		const port = options.port ?? (await freePort());
		let httpPort = web || options.metrics ? await freePort() : undefined;
		while (httpPort === port) httpPort = await freePort();
		const ownsDataDir = options.dataDir === undefined;
		const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), `prosody-${version}-${storage}-`));
		const configFile = path.join(dataDir, "prosody.cfg.lua");
		const postgres = storage === "postgres" ? await postgresDatabase() : undefined;
		writeFileSync(configFile, ProsodyServer.config({ ...options, storage, module }, port, httpPort, dataDir, postgres));
		try {
			await options.beforeStart?.({ configFile, dataDir });
		} catch (error) {
			if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
			throw error;
		}
		const child = spawn(launchers(version).prosody, ["-F", "--config", configFile], {
			cwd: dataDir,
			stdio: ["ignore", "pipe", "pipe"],
		});
		running.add(child);
		let output = "";
		child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
		child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
		child.once("exit", () => running.delete(child));
		const server = new ProsodyServer({ version, storage, module, web }, port, httpPort, dataDir, configFile, child, ownsDataDir);
		const deadline = Date.now() + 20_000;
		while (!(await acceptsConnections(port)) || (httpPort !== undefined && !(await acceptsConnections(httpPort)))) {
			if (child.exitCode !== null || Date.now() > deadline) {
				await server.stop();
				throw new Error(`Prosody ${version} did not start on port ${port}:\n${output}`);
			}
			await new Promise((r) => setTimeout(r, 50));
		}
		return server;
	}

	private static config(
		options: ServerOptions & { storage: Storage; module: "built" | "stock" | "installed" },
		port: number,
		httpPort: number | undefined,
		dataDir: string,
		postgres: PostgresDatabase | undefined,
	): string {
		const sql =
			postgres !== undefined
				? `sql = { driver = "PostgreSQL", database = ${luaLiteral(postgres.database)}, host = ${luaLiteral(postgres.host)}, port = ${postgres.port}, username = ${luaLiteral(postgres.username)} }`
				: `sql = { driver = "SQLite3", database = ${luaLiteral(path.join(dataDir, "prosody.sqlite"))} }`;
		const driver = options.storage === "internal" ? "internal" : "sql";
		const storage = options.testStorage
			? `storage = "test"\ntest_storage_backend = "${driver}"\n${sql}`
			: driver === "sql"
				? `storage = "sql"\n${sql}`
				: `storage = "internal"`;
		const host: { [option: string]: LuaLiteral } = { ...options.config };
		// Every test client comes from 127.0.0.1: one address's budget of invalid
		// tokens would be shared by all the tests on a server (spec/e2e/token_limits sets its own).
		host.invite_token_address_failures ??= 1000;
		const pluginPaths = options.module === "built" ? [options.pluginDir ?? builtModuleDir] : [];
		if (options.testStorage) pluginPaths.push(testPluginsDir);
		const community = [...(options.web ? webModules : []), ...(options.communityModules ?? [])];
		if (community.length > 0) {
			pluginPaths.push(communityModulesDir(options.version));
			const extra = host.modules_enabled;
			host.modules_enabled = [...community, ...(Array.isArray(extra) ? extra : [])];
		}
		if (httpPort !== undefined) {
			host.site_name ??= "Prosody e2e";
		}
		const http =
			httpPort === undefined
				? ["http_ports = { }"]
				: [`http_ports = { ${httpPort} }`, `http_interfaces = { "127.0.0.1" }`, `http_default_host = ${luaLiteral(DOMAIN)}`];
		const modules = ["roster", "saslauth", "tls", "disco", "ping", "posix", "admin_shell", "register", "invites", "invites_register", ...(options.metrics ? ["http", "http_openmetrics"] : []), ...(options.modules ?? [])];
		const global = options.global ?? {};
		const replaced = (line: string) => Object.keys(global).some((option) => line.startsWith(`${option} = `));
		const defaults = [
			"-- Generated by harness/server/prosody_server.ts",
			`data_path = ${luaLiteral(dataDir)}`,
			`pidfile = ${luaLiteral(path.join(dataDir, "prosody.pid"))}`,
			`admin_socket = ${luaLiteral(path.join(dataDir, "admin.sock"))}`,
			`plugin_paths = ${luaLiteral(pluginPaths)}`,
			...(options.installerPluginPath === undefined ? [] : [`installer_plugin_path = ${luaLiteral(path.resolve(dataDir, options.installerPluginPath))}`]),
			`interfaces = ${luaLiteral(options.interfaces ?? ["127.0.0.1"])}`,
			`local_interfaces = ${luaLiteral(options.interfaces ?? ["127.0.0.1"])}`,
			`c2s_ports = { ${port} }`,
			"c2s_direct_tls_ports = { }",
			"legacy_ssl_ports = { }",
			"s2s_ports = { }",
			...http,
			"https_ports = { }",
			"run_as_root = true",
			`certificates = ${luaLiteral(TLS_DIR)}`,
			`log = { debug = ${luaLiteral(path.join(dataDir, "prosody.log"))} }`,
			`modules_enabled = ${luaLiteral(modules)}`,
			...(options.metrics ? ['statistics = "internal"', 'statistics_interval = "manual"'] : []),
			`modules_disabled = { "s2s" }`,
			"allow_registration = true",
			storage,
		];
		return [
			...defaults.filter((line) => !replaced(line)),
			...Object.entries(global).map(([k, v]) => `${k} = ${luaLiteral(v)}`),
			`VirtualHost ${luaLiteral(DOMAIN)}`,
			`ssl = { certificate = ${luaLiteral(path.join(TLS_DIR, "localhost.crt"))}, key = ${luaLiteral(path.join(TLS_DIR, "localhost.key"))} }`,
			...Object.entries(host).map(([k, v]) => `${k} = ${luaLiteral(v)}`),
			"",
		].join("\n");
	}

	/** Runs a command in `prosodyctl shell` and returns its output. */
	async shell(command: string): Promise<string> {
		const { prosodyctl } = launchers(this.options.version);
		const { stdout } = await execFileAsync(prosodyctl, ["--config", this.configFile, "shell", command], { cwd: this.dataDir });
		return stdout.trim();
	}

	/**
	 * Evaluates a Lua expression in the server (with `host` bound to this
	 * VirtualHost's host session table) and returns its value, as JSON.
	 */
	async lua<T = unknown>(expression: string): Promise<T> {
		const code = `(function () local host = prosody.hosts[${JSON.stringify(DOMAIN)}]; local json = require "util.json"; return json.encode({ value = (function () return ${expression} end)() }) end)()`;
		const out = await this.shell(`> ${code}`);
		const match = out.match(/^Result: (.*)$/ms);
		if (!match) throw new Error(`prosodyctl shell: ${out}`);
		return (JSON.parse(match[1]) as { value: T }).value;
	}

	/** An account invite from mod_invites (optionally for one username, with data, expiring after ttl seconds). */
	async createAccountInvite(username?: string, data?: LuaLiteral, ttl?: number): Promise<{ token: string; uri: string }> {
		const args = [username === undefined ? "nil" : luaLiteral(username), data === undefined ? "nil" : luaLiteral(data), ttl === undefined ? "nil" : String(ttl)];
		return this.lua(`(function () local i = assert(host.modules.invites.create_account(${args.join(", ")})); return { token = i.token, uri = i.uri } end)()`);
	}

	async createResetInvite(username: string): Promise<{ token: string; uri: string }> {
		return this.lua(`(function () local i = assert(host.modules.invites.create_account_reset(${luaLiteral(username)})); return { token = i.token, uri = i.uri } end)()`);
	}

	/** A contact invite from `username` (with registration when allowRegistration: ibr=y), expiring after ttl seconds. */
	async createContactInvite(username: string, allowRegistration: boolean, ttl?: number): Promise<{ token: string; uri: string }> {
		return this.lua(
			`(function () local i = assert(host.modules.invites.create_contact(${luaLiteral(username)}, ${allowRegistration}, nil, ${ttl ?? "nil"})); return { token = i.token, uri = i.uri } end)()`,
		);
	}

	async createGroupInvite(groups: string[], data?: LuaLiteral, ttl?: number): Promise<{ token: string; uri: string }> {
		return this.lua(
			`(function () local i = assert(host.modules.invites.create_group(${luaLiteral(groups)}, ${data === undefined ? "nil" : luaLiteral(data)}, ${ttl ?? "nil"})); return { token = i.token, uri = i.uri } end)()`,
		);
	}

	async createUser(username: string, password: string): Promise<void> {
		await this.lua(`assert(require "core.usermanager".create_user(${luaLiteral(username)}, ${luaLiteral(password)}, ${luaLiteral(DOMAIN)}))`);
	}

	/** The admin shell's user:delete, in the server (user-deleted fires there). Returns the shell's output. */
	async deleteUser(username: string): Promise<string> {
		return this.shell(`user:delete(${luaLiteral(`${username}@${DOMAIN}`)})`);
	}

	/** 13: the admin shell's user:disable (user-disabled fires). */
	async disableUser(username: string): Promise<string> {
		return this.shell(`user:disable(${luaLiteral(`${username}@${DOMAIN}`)})`);
	}

	/** 13: the admin shell's user:enable. */
	async enableUser(username: string): Promise<string> {
		return this.shell(`user:enable(${luaLiteral(`${username}@${DOMAIN}`)})`);
	}

	/**
	 * `prosodyctl deluser` while the server runs. On 0.12 that is another
	 * process writing the storage: no event reaches the server. (13's
	 * prosodyctl does it through the running server's shell.)
	 */
	async deluserWithProsodyctl(username: string): Promise<void> {
		const { prosodyctl } = launchers(this.options.version);
		await execFileAsync(prosodyctl, ["--config", this.configFile, "deluser", `${username}@${DOMAIN}`], { cwd: this.dataDir });
	}

	/** With testStorage: the store operations so far, "store method" → count. */
	async storeOperations(): Promise<Record<string, number>> {
		return this.lua(`host.modules.storage_test.counts()`);
	}

	/** With testStorage: the reads of mod_invites' store so far (keyval and map: how many tokens were looked up, and more). */
	async inviteStoreReads(): Promise<number> {
		return Object.entries(await this.storeOperations())
			.filter(([operation]) => /^invite_token(\/map)? get$/.test(operation))
			.reduce((n, [, count]) => n + count, 0);
	}

	/** With testStorage: `method` calls on `store` sleep `seconds` (util.async) or fail; undefined heals. */
	async storageFault(store: string, method: string, how: "sleep" | "error" | undefined, seconds?: number): Promise<void> {
		await this.lua(`host.modules.storage_test.fault(${luaLiteral(store)}, ${luaLiteral(method)}, ${how === undefined ? "nil" : luaLiteral(how)}, ${seconds ?? "nil"})`);
	}

	async userExists(username: string): Promise<boolean> {
		return this.lua(`require "core.usermanager".user_exists(${luaLiteral(username)}, ${luaLiteral(DOMAIN)}) and true or false`);
	}

	/** Revokes an invite (mod_invites.delete_account_invite). */
	async deleteInvite(token: string): Promise<void> {
		await this.lua(`host.modules.invites.delete_account_invite(${luaLiteral(token)})`);
	}

	async inviteIsValid(token: string): Promise<boolean> {
		return this.lua(`host.modules.invites.get(${luaLiteral(token)}) ~= nil`);
	}

	/** A value of a map store on this host (e.g. groups: group id → username → true). */
	async mapStore(store: string, user: string, key: string): Promise<unknown> {
		return this.lua(`(require "core.storagemanager".open(${luaLiteral(DOMAIN)}, ${luaLiteral(store)}, "map"):get(${luaLiteral(user)}, ${luaLiteral(key)}))`);
	}

	/** 13: primary and secondary role names; 0.12: the role set's names. */
	async rolesOf(username: string): Promise<{ primary?: string; secondary?: string[]; set?: string[] }> {
		const user = luaLiteral(username);
		const dom = luaLiteral(DOMAIN);
		return this.lua(`(function ()
			local um = require "core.usermanager";
			local function names(t) local out = {}; for name, v in pairs(t or {}) do if v then out[#out + 1] = name; end end; table.sort(out); return out; end
			if um.get_user_role then
				local role = um.get_user_role(${user}, ${dom});
				return { primary = role and role.name, secondary = names(um.get_user_secondary_roles(${user}, ${dom})) };
			end
			return { set = names(um.get_roles(${user} .. "@" .. ${dom}, ${dom})) };
		end)()`);
	}

	/** With metrics: the OpenMetrics text mod_http_openmetrics serves. */
	async metrics(): Promise<string> {
		if (this.httpPort === undefined) throw new Error("this server was started without metrics: true");
		const response = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
		if (!response.ok) throw new Error(`GET /metrics: ${response.status}`);
		return response.text();
	}

	/** Lines of the server log at error level, or with a Lua traceback. */
	logProblems(): string[] {
		if (!existsSync(this.logFile)) return [];
		return readFileSync(this.logFile, "utf8")
			.split("\n")
			.filter((line) => /\terror\t/.test(line) || /traceback/i.test(line));
	}

	log(): string {
		return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
	}

	/** Stops Prosody (SIGTERM, then SIGKILL after 10 s) and removes its temporary data folder. */
	async stop(options: { keepData?: boolean } = {}): Promise<number | null> {
		if (this.process.exitCode === null && this.process.signalCode === null) {
			this.process.kill("SIGTERM");
			const timer = setTimeout(() => this.process.kill("SIGKILL"), 10_000);
			await this.exited;
			clearTimeout(timer);
		}
		const code = await this.exited;
		if (this.ownsDataDir && !options.keepData) rmSync(this.dataDir, { recursive: true, force: true });
		return code;
	}
}
