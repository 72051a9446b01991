/**
 * Calls into storage, protected: a driver that raises, or answers nil and
 * an error, is logged as "Could not <what>: <error>" and reported as
 * [false], never raised into a hook.
 */
export function logged<T>(what: string, f: () => LuaMultiReturn<[T | undefined, string?]>): LuaMultiReturn<[boolean, T | undefined]> {
	const [called, value, err] = pcall(f);
	if (!called || (value === undefined && err !== undefined)) {
		module.log("error", "Could not %s: %s", what, called ? err : value);
		return $multi(false, undefined);
	}
	return $multi(true, value as T | undefined);
}
