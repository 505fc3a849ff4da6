/** Error kinds a Lua script can see in err.kind. */
export type ErrorKind =
  | "INVALID" // bad argument from the script
  | "NOT_FOUND" // unknown executor id, command, instance, image
  | "PERMISSION_DENIED" // whitelist rejection, untrusted certificate
  | "UNAVAILABLE" // daemon unreachable, or the connection to it broke
  | "TIMEOUT" // exec timeout expired, or the daemon did not answer in time
  | "GONE" // the container or instance the command ran in was stopped, killed or removed
  | "CLOSED" // handle used after close/release
  | "STATE" // wrong order, e.g. start() twice
  | "INTERNAL";

/** An error that crosses into Lua as `nil, err` (err.kind, err.message). */
export class ExecError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "ExecError";
  }
}

/** Anything thrown → ExecError, keeping the message. */
export function toExecError(e: unknown, fallback: ErrorKind = "INTERNAL"): ExecError {
  if (e instanceof ExecError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ExecError(fallback, message);
}

/** A configuration problem; the message names the file, entry and field. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}
