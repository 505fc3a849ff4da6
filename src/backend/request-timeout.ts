/**
 * `request_timeout` (exec.docker, exec.incus): how long moonexec waits for the daemon to
 * answer any one call — connect, TLS handshake, HTTP request, websocket handshake, and each
 * round of an operation wait — before it reports TIMEOUT naming what did not answer.
 * It also bounds the silence of a connection that should be talking (websocket pings).
 */
import { ConfigError, ExecError } from "../errors.js";
import type { FieldType } from "./contract.js";

export const DEFAULT_REQUEST_TIMEOUT = 10;
const MAX_REQUEST_TIMEOUT = 3600;

export const REQUEST_TIMEOUT_FIELD: Record<string, FieldType> = { request_timeout: "integer" };

export function validateRequestTimeout(entry: { request_timeout?: number }, where: string): void {
  const v = entry.request_timeout;
  if (v !== undefined && (v < 1 || v > MAX_REQUEST_TIMEOUT)) {
    throw new ConfigError(`${where}: field 'request_timeout' must be between 1 and ${MAX_REQUEST_TIMEOUT} seconds, got ${v}`);
  }
}

/** The entry's deadline in milliseconds. */
export function requestTimeoutMs(entry: { request_timeout?: number }): number {
  return (entry.request_timeout ?? DEFAULT_REQUEST_TIMEOUT) * 1000;
}

/** The error for a call that got no answer: "docker: no answer to POST /exec/x/start within 10 s". */
export function noAnswer(daemon: string, what: string, ms: number): ExecError {
  return new ExecError("TIMEOUT", `${daemon}: no answer to ${what} within ${ms / 1000} s (request_timeout)`);
}

/**
 * Run `call` with an AbortSignal that fires after `ms`; a call still pending then rejects
 * with noAnswer(). The signal is never fired after the call settled (a hijacked socket it
 * was given must stay open).
 */
export async function withDeadline<T>(ms: number, daemon: string, what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(noAnswer(daemon, what, ms));
      ac.abort(noAnswer(daemon, what, ms));
    }, ms);
  });
  try {
    return await Promise.race([call(ac.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}
