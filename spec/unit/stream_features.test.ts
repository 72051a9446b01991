// Stream features: invite registration is advertised to clients that are
// not signed in, and only over an encrypted stream unless the admin allows
// plaintext.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";

const IBR_TOKEN = "urn:xmpp:ibr-token:0";
const LEGACY_INVITE = "urn:xmpp:invite";

describe.each(prosodyVersions)("stream features on Prosody %s", (version) => {
	const sims = simulators();

	test("an encrypted unauthenticated session is offered both invite features", () => {
		const sim = sims.create({ version });
		const features = sim.features(sim.connect({ secure: true }));
		expect(features.getChild("register", IBR_TOKEN)).toBeDefined();
		expect(features.getChild("register", LEGACY_INVITE)).toBeDefined();
	});

	test("an unencrypted session is offered nothing while encryption is required (the default)", () => {
		const sim = sims.create({ version });
		const features = sim.features(sim.connect({ secure: false }));
		expect(features.getChild("register", IBR_TOKEN)).toBeUndefined();
		expect(features.getChild("register", LEGACY_INVITE)).toBeUndefined();
	});

	test("an unencrypted session is offered the features when c2s_require_encryption = false", () => {
		const sim = sims.create({ version, config: { c2s_require_encryption: false } });
		const features = sim.features(sim.connect({ secure: false }));
		expect(features.getChild("register", IBR_TOKEN)).toBeDefined();
	});

	test("require_encryption = false is the fallback when c2s_require_encryption is unset", () => {
		const sim = sims.create({ version, config: { c2s_require_encryption: undefined, require_encryption: false } });
		// the simulator's global config sets c2s_require_encryption; unset it for this host
		sim.call(`sim.config["*"].c2s_require_encryption = nil`);
		const reloaded = sim.call(`
			sim.modulemanager.unload(sim.host, "invites_register");
			return sim.modulemanager.load(sim.host, "invites_register") ~= nil`);
		expect(reloaded).toBe(true);
		const features = sim.features(sim.connect({ secure: false }));
		expect(features.getChild("register", IBR_TOKEN)).toBeDefined();
	});

	test("a signed-in session is not offered registration", () => {
		const sim = sims.create({ version });
		sim.createUser("alice");
		const features = sim.features(sim.login("alice"));
		expect(features.getChild("register", IBR_TOKEN)).toBeUndefined();
		expect(features.getChild("register", LEGACY_INVITE)).toBeUndefined();
	});
});
