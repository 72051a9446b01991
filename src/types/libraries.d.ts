/**
 * Prosody's libraries by the name a module requires them with
 * ("util.stanza" in 0.12, "prosody.util.stanza" in 13): see
 * src/prosody_require.ts.
 */
import type { JidLib } from "./jid";
import type { RosterManager } from "./rostermanager";
import type { JsonLib, PathsLib, StorageManager, TimeLib } from "./sql";
import type { StanzaLib } from "./stanza";
import type { CacheLib, ThrottleLib } from "./throttle";
import type { UserManager } from "./usermanager";

export interface ProsodyLibraries {
	"util.stanza": StanzaLib;
	"util.jid": JidLib;
	"core.rostermanager": RosterManager;
	"core.usermanager": UserManager;
	"util.throttle": ThrottleLib;
	"util.cache": CacheLib;
	"core.storagemanager": StorageManager;
	"util.paths": PathsLib;
	"util.json": JsonLib;
	"util.time": TimeLib;
}
