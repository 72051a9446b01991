/**
 * The key an address's budget of invalid tokens is kept under: an IPv4
 * address as it is, an IPv6 address by its network prefix (the first
 * `invite_token_ipv6_prefix` bits, default 64: one customer's network),
 * since a single host can take any address of its /64 and would otherwise
 * get a budget per address. IPv4-mapped IPv6 addresses count as IPv4.
 */
import { positive_option } from "./options";

const prefix_bits = math.min(128, math.floor(positive_option("invite_token_ipv6_prefix", 64)));

/** The groups of one side of "::" (or of a whole address), or nil when one is not a hex group. */
function parse_groups(part: string): number[] | undefined {
	const out: number[] = [];
	if (part === "") {
		return out;
	}
	for (const [group] of string.gmatch(`${part}:`, "([^:]*):")) {
		if (string.match(group, "^%x%x?%x?%x?$")[0] === undefined) {
			return undefined;
		}
		out[out.length] = tonumber(group, 16)!;
	}
	return out;
}

/** The 8 groups of an IPv6 address, or nil when it is not one. */
function ipv6_groups(address: string): number[] | undefined {
	const [text] = string.match(address, "^([^%%]*)"); // without a zone id ("%eth0")
	const [at] = string.find(text ?? "", "::", 1, true);
	if (at === undefined) {
		const all = parse_groups(text ?? "");
		return all !== undefined && all.length === 8 ? all : undefined;
	}
	const left = parse_groups(string.sub(text!, 1, at - 1));
	const right = parse_groups(string.sub(text!, at + 2));
	if (left === undefined || right === undefined || left.length + right.length > 7) {
		return undefined;
	}
	const groups: number[] = [];
	for (const group of left) {
		groups[groups.length] = group;
	}
	for (let i = left.length + right.length; i < 8; i++) {
		groups[groups.length] = 0;
	}
	for (const group of right) {
		groups[groups.length] = group;
	}
	return groups;
}

/** The budget key of `address`. */
export function address_key(address: string): string {
	if (string.find(address, ":", 1, true)[0] === undefined) {
		return address; // IPv4
	}
	const [mapped] = string.match(address, "^::[fF][fF][fF][fF]:(%d+%.%d+%.%d+%.%d+)$");
	if (mapped !== undefined) {
		return mapped;
	}
	const groups = ipv6_groups(address);
	if (groups === undefined) {
		return address; // not understood: the exact address
	}
	const kept: string[] = [];
	let bits = prefix_bits;
	for (const group of groups) {
		if (bits <= 0) {
			break;
		}
		const dropped = 2 ** (16 - math.min(16, bits)); // the low bits of this group outside the prefix
		kept[kept.length] = string.format("%x", group - (group % dropped));
		bits -= 16;
	}
	return `${table.concat(kept, ":")}::/${prefix_bits}`;
}
