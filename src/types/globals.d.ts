/**
 * The two globals of a module's environment besides Lua's standard library.
 */
import type { ModuleApi } from "./moduleapi";
import type { ProsodyGlobal } from "./prosody";

declare global {
	/** This module's API object: `module:hook(...)`, `module:log(...)`. */
	const module: ModuleApi;
	/** Process-wide state: hosts, sessions, the stanza router. */
	const prosody: ProsodyGlobal;
}
