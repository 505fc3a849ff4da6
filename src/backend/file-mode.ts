/**
 * The `mode` of executor:push_file. Lua has no octal literals, so `mode = 644` would be
 * decimal 644 (= octal 1204) — almost certainly not what was meant. Accepted:
 *  - a string of octal digits: "0644", "644", "0o644" (recommended);
 *  - a number up to 511 (0o777), taken as the value itself: 420, tonumber("644", 8).
 * Larger numbers are rejected with a hint instead of silently setting odd bits.
 */
import { ExecError } from "../errors.js";

export function parseFileMode(value: unknown, what = "push_file: opts.mode"): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") {
    const m = /^(?:0o?)?([0-7]{1,4})$/i.exec(value.trim());
    if (!m) throw new ExecError("INVALID", `${what}: "${value}" is not an octal mode like "0644"`);
    return parseInt(m[1]!, 8);
  }
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) {
    if (value > 0o777) {
      throw new ExecError(
        "INVALID",
        `${what}: ${value} is decimal (octal ${value.toString(8)}); Lua has no octal literals — write the mode as a string, e.g. mode = "0${value}"`,
      );
    }
    return value;
  }
  throw new ExecError("INVALID", `${what}: must be an octal string like "0644" or a number, got ${typeof value}`);
}
