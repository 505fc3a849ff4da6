/**
 * Timeouts, in one place: what a timeout in seconds may be (exec's `timeout`, task.wait,
 * task.select, task.sleep), how one is armed on a running command, and the error a command
 * that ran out of time ends with.
 */
import { ExecError } from "../errors.js";

/** Node's timers hold at most 2^31-1 ms (~24.8 days); a longer delay fires after 1 ms. */
export const MAX_TIMEOUT_SECONDS = (2 ** 31 - 1) / 1000;

/**
 * A timeout in seconds, or an INVALID error naming `field`. `zero`: 0 is allowed (a task
 * wait that only looks); a command's timeout must be positive.
 */
export function checkTimeout(value: unknown, field: string, zero = false): number {
  const ok = typeof value === "number" && Number.isFinite(value) && (zero ? value >= 0 : value > 0);
  if (!ok) throw new ExecError("INVALID", `${field}: must be ${zero ? "a number of seconds ≥ 0" : "a positive number of seconds"}, got ${shown(value)}`);
  if (value > MAX_TIMEOUT_SECONDS) {
    throw new ExecError("INVALID", `${field}: must be at most ${MAX_TIMEOUT_SECONDS} seconds (~24.8 days, the timer limit), got ${shown(value)}`);
  }
  return value;
}

/** Call `expire` once `seconds` have passed (the timer does not keep Node alive); the result disarms it. */
export function armTimeout(seconds: number, expire: () => void): () => void {
  const timer = setTimeout(expire, seconds * 1000);
  timer.unref();
  return () => clearTimeout(timer);
}

/** The error wait() reports for a command its timeout killed. */
export function timedOutError(): ExecError {
  return new ExecError("TIMEOUT", "process timed out and was killed");
}

function shown(v: unknown): string {
  if (v instanceof Uint8Array) return "a string that is not UTF-8";
  if (typeof v === "object" && v !== null) return "a table";
  if (typeof v === "number") return `number ${String(v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
