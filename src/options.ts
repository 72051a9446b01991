/**
 * Reading options the way this module wants them: a value Prosody does not
 * understand, or one out of range, falls back to the default.
 */

/** A positive number option, or its default. */
export function positive_option(name: string, default_value: number): number {
	const value = module.get_option_number(name, default_value);
	return value !== undefined && value > 0 ? value : default_value;
}
