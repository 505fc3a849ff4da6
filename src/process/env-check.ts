/**
 * What an environment variable may be on every backend: a name that is not empty and holds
 * no '=' (the child would see `A=B=x` or `=y`) and no NUL byte, and a value without NUL.
 * Names and values are text: Node, Docker and Incus all pass them as UTF-8 strings, so
 * bytes that are not UTF-8 are refused rather than silently replaced by U+FFFD.
 */

/** Why `name` cannot be an environment variable's name, or undefined when it can. */
export function envNameProblem(name: string): string | undefined {
  if (name === "") return "names must not be empty";
  if (name.includes("=")) return "names must not contain '='";
  if (name.includes("\0")) return "names must not contain a NUL byte";
  // Lua table keys that are not UTF-8 arrive with U+FFFD in place of the bad bytes.
  if (name.includes("\uFFFD")) return "names must be valid UTF-8 text";
  return undefined;
}

/** Why `value` cannot be an environment variable's value, or undefined when it can. */
export function envValueProblem(value: string): string | undefined {
  return value.includes("\0") ? "values must not contain a NUL byte" : undefined;
}
