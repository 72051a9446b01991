/**
 * The fuzzer's model of the module's rules, written once: which invite may
 * be accepted at <preauth/>, whether the accounts it names still stand,
 * which pending invite reserves a username, and whether a token may
 * create an account or reset a password. The world (fuzz_world*.ts) asks
 * these over its state as each action began and checks the simulator's
 * answers against them; they restate the README's rules, not the module's
 * code.
 */
import { show, type ModelInvite, type Snapshot } from "./fuzz_model.js";

/** What the rules read of the world. */
export interface RulesWorld {
	readonly invites: readonly ModelInvite[];
	/** Single-use invites the model has seen used. */
	readonly consumed: ReadonlySet<string>;
	/** The simulator's state as the action began. */
	readonly before: Snapshot;
	/** A token as the transcript names it. */
	describe(token: string | undefined): string;
}

/** Whether an account may be created or reset with a token, and why not. */
export interface Verdict {
	ok: boolean;
	why: string;
	invalidToken: boolean;
	used?: boolean;
}

export class RegistrationRules {
	constructor(private readonly world: RulesWorld) {}

	private inviteByToken(token: string | undefined): ModelInvite | undefined {
		return token === undefined ? undefined : this.world.invites.find((i) => i.token === token);
	}

	/** Whether <preauth/> with `token` may be accepted: stored, unexpired, the accounts it names standing (when the action began). */
	acceptable(token: string): boolean {
		const expires = this.world.before.records.get(token);
		const invite = this.inviteByToken(token);
		return expires !== undefined && this.world.before.now <= expires && (invite === undefined || this.accountsStand(invite));
	}

	/**
	 * The module's rule for the accounts an invite names (its creator, the
	 * account a reset resets): each exists and, where both times are known,
	 * was created no later than the invite (else it is a later account of
	 * the same name).
	 */
	accountsStand(invite: ModelInvite): boolean {
		const createdAt = this.world.before.recordsCreated.get(invite.token);
		return [invite.creator, invite.reset].every((account) => {
			if (account === undefined) return true;
			if (!this.world.before.accounts.has(account) || this.world.before.disabled.has(account)) return false;
			const created = this.world.before.accountsCreated.get(account);
			return created === undefined || createdAt === undefined || created <= createdAt;
		});
	}

	/** Pending invites made here for `name` (the module knows them), other than `token`'s. */
	reservedFor(name: string, token: string | undefined): ModelInvite | undefined {
		return this.world.invites.find((i) => {
			if (i.token === token || i.bound !== name || i.reset !== undefined || !i.announced) return false;
			if (!i.reusable && this.world.consumed.has(i.token)) return false;
			const expires = this.world.before.records.get(i.token);
			return expires !== undefined && expires > this.world.before.now;
		});
	}

	/**
	 * Whether `token` may create the account `username` or reset its password
	 * (as the action began): the invite still stored and not used up, bound
	 * to this name if bound to one, the name not reserved for another pending
	 * invite; an existing account only for a reset invite of its own.
	 */
	legitimate(token: string | undefined, username: string | undefined, what: "create" | "reset" | "either"): Verdict {
		const refuse = (why: string, invalidToken = false, used = false) => ({ ok: false, why, invalidToken, used });
		if (token === undefined) return refuse("no invite", true);
		const invite = this.inviteByToken(token);
		if (!invite) return refuse(`token ${show(token)} is no invite`, true);
		if (!this.world.before.records.has(token)) return refuse(`invite ${this.world.describe(token)} is no longer stored`, true);
		if (!invite.reusable && this.world.consumed.has(token)) return refuse(`single-use invite ${this.world.describe(token)} was already used`, true, true);
		if (!this.accountsStand(invite)) return refuse(`an account ${this.world.describe(token)} names no longer stands`, true);
		// An event without a (string) username creates nothing: what matters is that the invite is valid.
		if (username === undefined) return invite.registers || invite.reset !== undefined ? { ok: true, why: "", invalidToken: false } : refuse(`${this.world.describe(token)} allows no registration`);
		const exists = this.world.before.accounts.has(username);
		if (invite.reset !== undefined) {
			if (what === "create") return refuse(`reset invite ${this.world.describe(token)} cannot create an account`);
			if (invite.reset !== username || !exists) return refuse(`reset invite for ${invite.reset} used for ${username}${exists ? "" : " (no such account)"}`);
			return { ok: true, why: "", invalidToken: false };
		}
		if (what === "reset") return refuse(`${this.world.describe(token)} is no reset invite`);
		if (!invite.registers) return refuse(`${this.world.describe(token)} does not allow registration`);
		if (exists) return refuse(`account ${username} exists`);
		if (invite.bound !== undefined && invite.bound !== username) return refuse(`invite bound to ${invite.bound}, not ${username}`);
		const reserved = invite.bound === undefined ? this.reservedFor(username, token) : undefined;
		if (reserved) return refuse(`${username} is reserved for pending invite ${this.world.describe(reserved.token)}`);
		return { ok: true, why: "", invalidToken: false };
	}
}
