/**
 * Where the Prosody source code the simulator and the test servers run
 * comes from (scripts/setup-prosody.sh puts them there): 0.12 is Debian
 * bookworm's package, installed on bookworm, unpacked into
 * .cache/prosody-0.12 on trixie; 13 is 13.0.1 (bookworm-backports' or
 * trixie's package) unpacked into .cache/prosody-13, 13-latest the newest
 * 13.x (trixie-backports: 13.0.6) in .cache/prosody-13-latest (on
 * bookworm with 13.0.1's C modules, see the setup script). Overridden with
 * PROSODY_012_SOURCE / PROSODY_13_SOURCE / PROSODY_13_LATEST_SOURCE. Also
 * where the community modules (Debian's prosody-modules) are.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");

export type ProsodyVersion = "0.12" | "13" | "13-latest";
/** The versions the simulated unit tests run on (Prosody's Lua code of each): 0.12.3, 13.0.1 and the newest 13.x Debian has. */
export const prosodyVersions: ProsodyVersion[] = ["0.12", "13", "13-latest"];
/** The versions the end-to-end tests start real servers of. */
export const serverVersions: ProsodyVersion[] = ["0.12", "13", "13-latest"];

/** 0.12 unpacked (on trixie, whose own Prosody is 13), else bookworm's installed package. */
const unpacked012 = path.join(repoRoot, ".cache/prosody-0.12/usr/lib/prosody");

const defaults: Record<ProsodyVersion, string> = {
	"0.12": existsSync(path.join(unpacked012, "prosody.version")) ? unpacked012 : "/usr/lib/prosody",
	"13": path.join(repoRoot, ".cache/prosody-13/usr/lib/prosody"),
	"13-latest": path.join(repoRoot, ".cache/prosody-13-latest/usr/lib/prosody"),
};
const overrides: Record<ProsodyVersion, string | undefined> = {
	"0.12": process.env.PROSODY_012_SOURCE,
	"13": process.env.PROSODY_13_SOURCE,
	"13-latest": process.env.PROSODY_13_LATEST_SOURCE,
};

/** The release a version name stands for, as its source says (e.g. "13.0.6"). */
export function prosodyRelease(version: ProsodyVersion): string {
	return readFileSync(path.join(prosodySource(version), "prosody.version"), "utf8").trim();
}

/** The folder holding util/, core/ and modules/ of that Prosody version. */
export function prosodySource(version: ProsodyVersion): string {
	const dir = overrides[version] ?? defaults[version];
	const versionFile = path.join(dir, "prosody.version");
	if (!existsSync(versionFile)) {
		throw new Error(`Prosody ${version} source not found in ${dir}: run scripts/setup-prosody.sh (npm test does)`);
	}
	const found = readFileSync(versionFile, "utf8").trim();
	if (!found.startsWith(version === "13-latest" ? "13." : version)) {
		throw new Error(`${dir} holds Prosody ${found}, expected ${version}`);
	}
	return dir;
}

/** The folder of the built module (dist-lua/mod_invites_register.lua). */
export const builtModuleDir = path.join(repoRoot, "dist-lua");

/**
 * The community modules (mod_invites_page, mod_invites_register_web,
 * mod_register_apps, mod_password_policy, …) a version's servers load:
 * bookworm-backports' prosody-modules package (April 2025), or for
 * 13-latest trixie-backports' (July 2026), unpacked by
 * scripts/setup-prosody.sh, one folder per module (mod_x/mod_x.lua), as
 * plugin_paths expects. PROSODY_MODULES_DIR / PROSODY_MODULES_LATEST_DIR
 * override them.
 */
export function communityModulesDir(version: ProsodyVersion): string {
	if (version === "13-latest") {
		return process.env.PROSODY_MODULES_LATEST_DIR ?? path.join(repoRoot, ".cache/prosody-modules-latest/usr/lib/prosody/modules");
	}
	return process.env.PROSODY_MODULES_DIR ?? path.join(repoRoot, ".cache/prosody-modules/usr/lib/prosody/modules");
}
