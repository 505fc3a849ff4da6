/** Daemon and transport errors → ExecError with a kind and a message that says what to do. */
import { ExecError } from "../../errors.js";

interface DockerodeError extends Error {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
}

const UNREACHABLE = new Set(["ECONNREFUSED", "ENOENT", "EACCES", "EPERM", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

/** The daemon's own message ("No such image: x"), else the error's. */
export function daemonMessage(e: unknown): string {
  const err = e as DockerodeError;
  const fromJson = err?.json && typeof err.json === "object" ? err.json.message : undefined;
  if (fromJson) return fromJson;
  const m = err instanceof Error ? err.message : String(e);
  // dockerode: "(HTTP code 404) no such container - No such image: x "
  return m.replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, "").trim();
}

export function isUnreachable(e: unknown): boolean {
  const err = e as DockerodeError;
  return !!err && typeof err === "object" && err.statusCode === undefined && (UNREACHABLE.has(err.code ?? "") || /Connection Timeout/i.test(err.message ?? ""));
}

export function statusOf(e: unknown): number | undefined {
  return (e as DockerodeError)?.statusCode;
}

/** Map any failure of a daemon call; `what` says what was being done ("creating the container"). */
export function dockerError(e: unknown, host: string, what: string): ExecError {
  if (e instanceof ExecError) return e;
  if (isUnreachable(e)) {
    const code = (e as DockerodeError).code ?? (e as Error).message;
    return new ExecError("UNAVAILABLE", `docker daemon at ${host} is unreachable (${code}) while ${what}: is dockerd running and is the socket accessible?`);
  }
  const status = statusOf(e);
  const msg = daemonMessage(e);
  if (status === 404) return new ExecError("NOT_FOUND", `docker (${host}) while ${what}: ${msg}`);
  if (status === 401 || status === 403) return new ExecError("PERMISSION_DENIED", `docker (${host}) while ${what}: ${msg}`);
  if (status === 409) return new ExecError("STATE", `docker (${host}) while ${what}: ${msg}`);
  return new ExecError("INTERNAL", `docker (${host}) while ${what}: ${msg}`);
}
