import { Element } from "ltx";
import { USERNAMES, type ExtraChild, type FieldChoice, type IqShape, type TokenChoice, type ToChoice } from "./fuzz_actions.js";

import { NS_REGISTER, ModelSession } from "./fuzz_model.js";
import { FuzzWorldBase } from "./fuzz_world_base.js";

/** The fuzzer's world, second layer: the stanzas its clients and remote servers send. */
export abstract class FuzzWorldStanzas extends FuzzWorldBase {
	// -------------------------------------------------------------------------
	// Building stanzas

	protected tokenValue(choice: TokenChoice | undefined): string | undefined {
		if (choice === undefined) return undefined;
		let value: string;
		switch (choice.t) {
			case "real": {
				const token = this.invite(choice.invite)?.token ?? "NoInviteMadeYetNoInviteX";
				value = {
					none: token,
					upper: token.toUpperCase() === token ? `${token}x` : token.toUpperCase(),
					suffix: `${token}A`,
					prefix: `A${token}`,
					truncate: token.slice(0, -1),
					pad: ` ${token} `,
				}[choice.mutate];
				break;
			}
			case "fake":
			case "unicode":
				value = choice.value;
				break;
			case "long":
				value = "A".repeat(choice.length);
				break;
			case "empty":
				return "";
			case "missing":
				return undefined;
		}
		if (value.length >= 12 && !this.invites.some((i) => i.token === value)) this.presented.add(value);
		return value;
	}

	protected extraChild(child: ExtraChild): Element {
		const attrs: Record<string, string> = {};
		if (child.xmlns !== undefined) attrs.xmlns = child.xmlns;
		const token = this.tokenValue(child.token);
		if (token !== undefined) attrs.token = token;
		const el = new Element(child.name, attrs);
		if (child.text) el.t(child.text);
		return el;
	}

	protected field(choice: FieldChoice): string | Element | undefined {
		switch (choice.f) {
			case "unique":
				return `pw-${this.step}-${this.transcript.length}`;
			case "missing":
				return undefined;
			case "empty":
				return "";
			case "pool":
				return USERNAMES[choice.index % USERNAMES.length];
			case "random":
				return choice.value;
			case "nested":
				return new Element("b").t("nested");
			case "long":
				return "u".repeat(choice.length);
		}
	}

	protected address(choice: ToChoice, origin: ModelSession | undefined, s2s: boolean): string | undefined {
		const others = this.sessions.filter((s) => s.kind === "c2s" && s !== origin && s.full !== undefined);
		switch (choice) {
			case "none":
				return s2s ? this.host : undefined; // a server always addresses its stanzas
			case "host":
				return this.host;
			case "host-resource":
				return `${this.host}/fuzz`;
			case "local-bare":
				return `bob@${this.host}`;
			case "local-full":
				return others.length > 0 ? others[this.step % others.length].full : `bob@${this.host}/none`;
			case "own-bare":
				return origin?.user !== undefined ? `${origin.user}@${this.host}` : `carol@${this.host}`;
			case "remote":
				return s2s ? this.host : "bob@remote.example"; // a remote server only sends us our own stanzas
			case "garbage":
				return "@example.com";
			case "empty":
				return "";
		}
	}

	protected buildIq(shape: IqShape, origin: ModelSession | undefined, s2sFrom?: string): Element {
		const attrs: Record<string, string> = {};
		for (const [k, v] of shape.attrs) attrs[k] = v;
		if (shape.type === "garbage") attrs.type = shape.garbageType;
		else if (shape.type === "missing") delete attrs.type;
		else attrs.type = shape.type;
		// Prosody's router raises on a c2s IQ error without id (it answers "missing id" to an error).
		if (shape.id === null && !(shape.type === "error" && origin?.kind === "c2s")) delete attrs.id;
		else attrs.id = shape.id ?? "";
		const to = this.address(shape.to, origin, s2sFrom !== undefined);
		if (to === undefined) delete attrs.to;
		else attrs.to = to;
		if (s2sFrom !== undefined) attrs.from = s2sFrom;
		else if (shape.from === "valid") attrs.from = `someone@${this.host}/x`;
		else if (shape.from === "garbage") attrs.from = "@@";
		else delete attrs.from;
		const iq = new Element("iq", attrs);
		const p = shape.payload;
		switch (p.p) {
			case "preauth": {
				for (const child of p.before) iq.cnode(this.extraChild(child));
				p.tokens.forEach((choice, i) => {
					const a: Record<string, string> = {};
					if (i === 0) for (const [k, v] of p.attrs) a[k] = v;
					a.xmlns = p.xmlns;
					const token = this.tokenValue(choice);
					if (token === undefined) delete a.token;
					else a.token = token;
					iq.cnode(new Element("preauth", a));
				});
				for (const child of p.after) iq.cnode(this.extraChild(child));
				break;
			}
			case "register": {
				const query = new Element("query", { xmlns: NS_REGISTER });
				iq.cnode(query);
				if (p.remove) query.cnode(new Element("remove"));
				const fields = [["username", this.field(p.username)], ["password", this.field(p.password)]] as const;
				if (p.form === "none") {
					for (const [name, value] of fields) {
						if (value === undefined) continue;
						const el = new Element(name);
						if (typeof value === "string") el.t(value);
						else el.cnode(value);
						query.cnode(el);
					}
				} else {
					const form = new Element("x", { xmlns: "jabber:x:data", type: p.form === "form" ? "submit" : "result" });
					query.cnode(form);
					if (p.form === "form") form.cnode(new Element("field", { var: "FORM_TYPE", type: "hidden" }).c("value").t(NS_REGISTER).root());
					for (const [name, value] of fields) {
						if (value === undefined) continue;
						const field = new Element("field", p.form === "form" ? { var: name } : {});
						const v = new Element("value");
						if (typeof value === "string") v.t(value);
						else v.cnode(value);
						field.cnode(v);
						form.cnode(field);
					}
					if (p.form === "bad-form") form.cnode(new Element("field", { var: "username", type: "list-multi" }).c("value").t("two").up().c("value").t("values").root());
				}
				for (const child of p.extra) query.cnode(this.extraChild(child));
				break;
			}
			case "register-get": {
				const query = new Element("query", { xmlns: NS_REGISTER });
				for (const child of p.extra) query.cnode(this.extraChild(child));
				iq.cnode(query);
				break;
			}
			case "empty":
				break;
			case "other":
				iq.cnode(this.extraChild(p.child));
				break;
		}
		return iq;
	}

}
