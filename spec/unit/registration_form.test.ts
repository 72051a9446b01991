// The In-Band Registration form of a session that presented an invite bound
// to a username carries that username (as ejabberd's does), in <username/>
// and in the data form's username field. Other sessions get the form
// mod_register_ibr makes for everyone, unchanged.
import type { Element } from "ltx";
import { prosodyVersions } from "../../harness/server/prosody_sources.js";
import { simulators } from "../support/sim_fixture.js";
import type { ProsodySim, Session } from "../../harness/sim/prosody_sim.js";

/** What a client reads of the form: <username/>'s text, the data form's username value, the field names. */
function read(form: Element) {
	const query = form.getChild("query", "jabber:iq:register");
	const fields = query?.getChild("x", "jabber:x:data")?.getChildren("field") ?? [];
	return {
		type: form.attrs.type,
		username: query?.getChildText("username"),
		formUsername: fields.find((f) => f.attrs.var === "username")?.getChildText("value") ?? null,
		fields: fields.map((f) => f.attrs.var),
		elements: query?.children.filter((c): c is Element => typeof c !== "string").map((c) => c.name),
	};
}

function presented(sim: ProsodySim, token: string): Session {
	const client = sim.connect();
	expect(sim.preauth(client, token).attrs.type).toBe("result");
	return client;
}

describe.each(prosodyVersions)("the registration form on Prosody %s", (version) => {
	const sims = simulators();
	const modules = ["presence", "register_ibr", "invites_register"];

	test("after an invite made for alice, carries alice", () => {
		const sim = sims.create({ version, modules });
		const client = presented(sim, sim.invites.createAccount("alice").token);
		expect(read(sim.registrationForm(client))).toMatchObject({ type: "result", username: "alice", formUsername: "alice" });
	});

	test("after a password reset invite for alice, carries alice", () => {
		const sim = sims.create({ version, modules });
		sim.createUser("alice");
		const client = presented(sim, sim.invites.createReset("alice").token);
		expect(read(sim.registrationForm(client))).toMatchObject({ username: "alice", formUsername: "alice" });
	});

	test("after an invite written by another process, carries its username", () => {
		const sim = sims.create({ version, modules, config: { invite_reservation_refresh: 10 } });
		const invite = sim.invites.createElsewhere("alice");
		sim.advance(10);
		const client = presented(sim, invite.token);
		expect(read(sim.registrationForm(client))).toMatchObject({ username: "alice", formUsername: "alice" });
	});

	test("is unchanged for sessions without invite, with an open invite, and for other sessions", () => {
		const sim = sims.create({ version, modules });
		const plain = read(sim.registrationForm(sim.connect()));
		expect(plain).toMatchObject({ type: "result", username: "", formUsername: null });
		expect(read(sim.registrationForm(presented(sim, sim.invites.createAccount().token)))).toEqual(plain);
		const alice = presented(sim, sim.invites.createAccount("alice").token);
		expect(read(sim.registrationForm(alice)).username).toBe("alice");
		// The form mod_register_ibr shares between sessions was not changed.
		expect(read(sim.registrationForm(sim.connect()))).toEqual(plain);
		expect(read(sim.registrationForm(alice)).username).toBe("alice");
	});

	test("keeps the fields other configuration adds", () => {
		const sim = sims.create({ version, modules, config: { additional_registration_fields: ["email", "name"] } });
		const plain = read(sim.registrationForm(sim.connect()));
		expect(plain.fields).toEqual(["FORM_TYPE", "username", "password", "email", "name"]);
		const filled = read(sim.registrationForm(presented(sim, sim.invites.createAccount("alice").token)));
		expect(filled).toEqual({ ...plain, username: "alice", formUsername: "alice" });
	});

	test("the session's later stanzas are not touched", () => {
		const sim = sims.create({ version, modules });
		const client = presented(sim, sim.invites.createAccount("alice").token);
		sim.registrationForm(client);
		const second = read(sim.registrationForm(client));
		expect(second.username).toBe("alice");
		expect(sim.register(client, "alice").attrs.type).toBe("result");
	});
});
