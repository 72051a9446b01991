// Options, their defaults, and what the module loads with it.
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";

describe.each(prosodyVersions)("options and dependencies on Prosody %s", (version) => {
	const sims = simulators();

	test("registration is invite-only by default", () => {
		const sim = sims.create({ version });
		const reply = sim.register(sim.connect(), "mallory");
		expect(reply.attrs.type).toBe("error");
		expect(sim.userExists("mallory")).toBe(false);
	});

	test("registration_invite_only = false allows registration without an invite", () => {
		const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["presence", "register_ibr", "invites_register"] });
		expect(sim.register(sim.connect(), "bob").attrs.type).toBe("result");
		expect(sim.userExists("bob")).toBe(true);
	});

	test("a registration_invite_only value Prosody does not understand keeps registration invite-only", () => {
		const sim = sims.create({ version, config: { registration_invite_only: "yes please" } });
		expect(sim.logs("error").some((e) => e.message.includes("registration_invite_only"))).toBe(true);
		expect(sim.register(sim.connect(), "mallory").attrs.type).toBe("error");
		expect(sim.userExists("mallory")).toBe(false);
	});

	test("in the server it loads mod_invites and, when invite-only, mod_register_ibr", () => {
		const sim = sims.create({ version, modules: ["invites_register"] });
		expect(sim.call(`return sim:module("invites") ~= nil, sim:module("register_ibr") ~= nil`)).toBe(true);
		expect(sim.call(`return sim:module("register_ibr") ~= nil`)).toBe(true);
	});

	test("in open mode it does not load mod_register_ibr itself", () => {
		const sim = sims.create({ version, config: { registration_invite_only: false }, modules: ["invites_register"] });
		expect(sim.call(`return sim:module("invites") ~= nil`)).toBe(true);
		expect(sim.call(`return sim:module("register_ibr") ~= nil`)).toBe(false);
	});

	test("under prosodyctl it loads no dependency, and its hooks still answer without errors", () => {
		const sim = sims.create({ version, modules: ["invites_register"], processType: "prosodyctl" });
		expect(sim.call(`return sim:module("invites") ~= nil`)).toBe(false);
		expect(sim.call(`return sim:module("register_ibr") ~= nil`)).toBe(false);
		const client = sim.connect();
		const reply = sim.preauth(client, "AAAAAAAAAAAAAAAAAAAAAAAA");
		expect(reply.attrs.type).toBe("error");
	});

	test("it loads Prosody's libraries under the names this version uses", () => {
		// The simulator refuses "prosody.*" names on 0.12, as 0.12 itself does.
		const sim = sims.create({ version });
		expect(sim.call(`return sim:module("invites_register") ~= nil`)).toBe(true);
		const prefixed = sim.call(`return (pcall(sim.require, "prosody.util.stanza"))`);
		expect(prefixed).toBe(version !== "0.12");
	});
});
