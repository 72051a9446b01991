/**
 * Invites that another process wrote into storage (a web panel or a script
 * writing the database, 0.12's `prosodyctl mod_invites generate` while the
 * server runs): this server saw no invite-created for them, so it learns of
 * them here, and from then on they reserve their usernames (XEP-0445 §5)
 * and count as pending for the limits, like the invites made inside it.
 *
 *  - SQL storage: the tokens of mod_invites' rows are listed a page at a
 *    time, in token order, PAGE_ROWS every PAGE_SECONDS
 *    (sql_invite_pages.ts); only a page with tokens not known yet is read
 *    with its records, and it stops decoding them after PAGE_BUDGET. A page
 *    keeps the server busy for 1-3 ms when every invite is known, about 30
 *    at most, whatever the number of pending invites. A round over all of
 *    them takes one second per PAGE_ROWS pending invites; while pages find
 *    new invites (after a start, or a bulk write), they come every
 *    CATCH_UP_SECONDS instead: about 5 000 new invites a second, at most a
 *    fifth of the server's time.
 *    Rounds start `invite_reservation_refresh` seconds apart (default 60).
 *    An invite written from outside is seen within that delay plus one
 *    second per PAGE_ROWS pending invites (at 100 000: within 3 minutes).
 *  - Other storage (file, or any driver whose rows cannot be paged): only
 *    when `invite_reservation_refresh` is set, a timer reads every pending
 *    invite at that interval, in one blocking call (about 20 µs per invite).
 *
 * The first round after a start also learns the unbound invites made
 * before it, which the limits then know to be pending; at the first load
 * of this version on SQL storage, it takes over every invite made before
 * (pending_invites.ts: until it ends, registrations that must check a
 * name are asked to try again later).
 */
import { was_used } from "./invite_claims";
import { file_found_invite, index_ready, is_known_invite, new_found_batch, read_every_pending_invite, round_completed, write_found_batch } from "./pending_invites";
import { prosody_require } from "./prosody_require";
import { invite_sql_engine, list_invite_tokens, read_invite_range } from "./sql_invite_pages";
import { token_hash } from "./tokens";
import type { SqlEngine } from "./types/sql";

const time = prosody_require("util.time");

/** Rows per page: rows of known invites cost about 1 µs each (they are not decoded). */
const PAGE_ROWS = 1000;
/** Seconds a page may spend reading, decoding and filing invites not known before (about 40 µs each); the rest waits for the next page. */
const PAGE_BUDGET = 0.02;
/** Rows of a page read with their records at most (the rest of the page waits): a bounded query. */
const RECORD_ROWS = 400;
/** Seconds between two pages of a round. */
const PAGE_SECONDS = 1;
/** Seconds to the next page after one that found invites not known before: more may follow (catching up after a start or a bulk write). */
const CATCH_UP_SECONDS = 0.1;

const configured_refresh = module.get_option_number("invite_reservation_refresh");
const refresh = configured_refresh !== undefined && configured_refresh > 0 ? configured_refresh : undefined;
/** Seconds from the end of a round over SQL storage to the next. */
const SQL_ROUND_SECONDS = refresh ?? 60;

/** Where the current round is: the last token read ("" before the first). */
let after = "";
/** Hashes of tokens whose rows are no usable pending invite (expired, malformed): not decoded again. */
const unusable = new LuaTable<number, true>();
/** Rows read and invites newly found in the current round, for the log. */
let round_rows = 0;
let round_found = 0;
/**
 * The longest a page of the current round kept the server busy, in
 * seconds: wall time (a database answer included, and whatever else the
 * machine ran meanwhile) and this process's CPU time.
 */
let round_longest = 0;
let round_longest_cpu = 0;

/** A row needs no decoding when its invite is known: pending in memory, used here, or not usable. */
function known(token: string): boolean {
	return is_known_invite(token) || unusable.has(token_hash(token)) || was_used(token);
}

/**
 * The invites of one page that are not known yet, read, decoded and filed
 * until PAGE_BUDGET has passed (at least one, so that a round always
 * moves on). The token up to which the page was gone through and how many
 * were new, or nil and the error.
 */
function take_in_unknown(engine: SqlEngine, tokens: readonly string[], started: number): LuaMultiReturn<[string, number] | [undefined, string]> {
	let reached = after;
	let found = 0;
	const batch = new_found_batch();
	const [ok, err] = read_invite_range(engine, after, tokens[tokens.length - 1], RECORD_ROWS, (token, decode) => {
		if (!known(token)) {
			if (found > 0 && time.now() - started > PAGE_BUDGET) {
				return false; // the rest of the page waits for the next one
			}
			found += 1;
			if (!file_found_invite(batch, token, decode())) {
				unusable.set(token_hash(token), true);
			}
		}
		reached = token;
		return true;
	});
	write_found_batch(batch); // what was filed before a failure is kept too
	if (ok === undefined) {
		return $multi(undefined, err ?? "unknown error");
	}
	return $multi(reached, found);
}

/** How many of a page's tokens come up to `reached` (all of them when it is not among them). */
function gone_through(tokens: readonly string[], reached: string): number {
	for (let i = tokens.length - 1; i >= 0; i--) {
		if (tokens[i] === reached) {
			return i + 1;
		}
	}
	return tokens.length;
}

/** One page of a round; the seconds until the next page (or the next round). */
function next_page(): number {
	if (!index_ready()) {
		return PAGE_SECONDS * 10; // the index is being loaded, and retried (pending_invites.ts)
	}
	const engine = invite_sql_engine();
	if (engine === undefined) {
		return SQL_ROUND_SECONDS; // not connected yet, or the store moved away from SQL
	}
	const started = time.now();
	const started_cpu = os.clock();
	const [tokens, list_err] = list_invite_tokens(engine, after, PAGE_ROWS);
	if (tokens === undefined) {
		module.log("warn", "Could not look for invites written by other processes: %s", list_err);
		return SQL_ROUND_SECONDS;
	}
	let reached = tokens.length > 0 ? tokens[tokens.length - 1] : after;
	let more = tokens.length === PAGE_ROWS;
	let found = 0;
	let unknown = false;
	for (const token of tokens) {
		unknown = unknown || !known(token);
	}
	if (unknown) {
		const [read_up_to, new_or_err] = take_in_unknown(engine, tokens, started);
		if (read_up_to === undefined) {
			module.log("warn", "Could not look for invites written by other processes: %s", new_or_err);
			return SQL_ROUND_SECONDS;
		}
		more = more || read_up_to !== reached;
		reached = read_up_to;
		found = new_or_err as number;
	}
	round_rows += gone_through(tokens, reached);
	round_found += found;
	round_longest = math.max(round_longest, time.now() - started);
	round_longest_cpu = math.max(round_longest_cpu, os.clock() - started_cpu);
	if (!more) {
		round_completed();
		module.log(
			"debug",
			"Looked for invites written by other processes: %d stored, %d not known before; longest page %.1f ms (%.1f ms CPU)",
			round_rows,
			round_found,
			round_longest * 1000,
			round_longest_cpu * 1000,
		);
		after = "";
		round_rows = 0;
		round_found = 0;
		round_longest = 0;
		round_longest_cpu = 0;
		return SQL_ROUND_SECONDS;
	}
	after = reached;
	return found > 0 ? CATCH_UP_SECONDS : PAGE_SECONDS;
}

/** Starts looking for invites written by other processes, as the storage allows (see above). */
export function watch_outside_invites(): void {
	if (invite_sql_engine() !== undefined) {
		const page = (): number => {
			const [ok, delay] = pcall(next_page);
			if (!ok) {
				module.log("error", "Could not look for invites written by other processes: %s", delay);
				return SQL_ROUND_SECONDS;
			}
			return delay;
		};
		// The first page at once (a few ms): on a new or small server, the
		// first round (and the taking over at a first load) ends before the
		// first client comes.
		module.add_timer(page(), page);
		return;
	}
	if (refresh !== undefined) {
		const interval = refresh;
		module.add_timer(interval, () => {
			const [ok, err] = pcall(read_every_pending_invite);
			if (!ok) {
				module.log("error", "Could not read the pending invites: %s", err);
			}
			return interval;
		});
	}
}
