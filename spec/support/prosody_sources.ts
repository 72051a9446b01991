/**
 * Where the Prosody source code the simulator runs comes from:
 * 0.12 is Debian's installed package, 13 the bookworm-backports package
 * unpacked by scripts/setup-prosody.sh into .cache/prosody-13. Both can be
 * overridden with PROSODY_012_SOURCE / PROSODY_13_SOURCE. Also where the
 * community modules (Debian's prosody-modules) are.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

export const repoRoot = path.resolve(import.meta.dirname, "../..");

export type ProsodyVersion = "0.12" | "13";
export const prosodyVersions: ProsodyVersion[] = ["0.12", "13"];

const defaults: Record<ProsodyVersion, string> = {
	"0.12": "/usr/lib/prosody",
	"13": path.join(repoRoot, ".cache/prosody-13/usr/lib/prosody"),
};
const overrides: Record<ProsodyVersion, string | undefined> = {
	"0.12": process.env.PROSODY_012_SOURCE,
	"13": process.env.PROSODY_13_SOURCE,
};

/** The folder holding util/, core/ and modules/ of that Prosody version. */
export function prosodySource(version: ProsodyVersion): string {
	const dir = overrides[version] ?? defaults[version];
	const versionFile = path.join(dir, "prosody.version");
	if (!existsSync(versionFile)) {
		throw new Error(`Prosody ${version} source not found in ${dir}: run scripts/setup-prosody.sh (npm test does)`);
	}
	const found = readFileSync(versionFile, "utf8").trim();
	if (!found.startsWith(version)) {
		throw new Error(`${dir} holds Prosody ${found}, expected ${version}`);
	}
	return dir;
}

/** The folder of the built module (dist-lua/mod_invites_register.lua). */
export const builtModuleDir = path.join(repoRoot, "dist-lua");

/**
 * The community modules (mod_invites_page, mod_invites_register_web,
 * mod_register_apps, mod_password_policy, …): bookworm-backports'
 * prosody-modules package, unpacked by scripts/setup-prosody.sh, one folder
 * per module (mod_x/mod_x.lua), as plugin_paths expects. PROSODY_MODULES_DIR
 * overrides it.
 */
export const communityModulesDir = process.env.PROSODY_MODULES_DIR ?? path.join(repoRoot, ".cache/prosody-modules/usr/lib/prosody/modules");
