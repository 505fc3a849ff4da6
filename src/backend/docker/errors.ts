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

/** The daemon's certificate failed verification (Node's codes for the chain and the name). */
const UNTRUSTED = new Set(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE"]);

/** What went wrong with TLS, in words, or undefined when it is not a TLS failure. */
function tlsProblem(e: unknown): string | undefined {
  const err = e as DockerodeError;
  const code = err?.code ?? "";
  if (UNTRUSTED.has(code)) return `the daemon's certificate is not signed by the CA in tls_ca (or, without tls_ca, by a system CA) (${code})`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `the daemon's certificate does not name the host connected to (${err.reason ?? err.message})`;
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return `the daemon's certificate is not valid now (${code})`;
  // The daemon's alerts when our certificate is missing or not one it trusts.
  if (/^ERR_SSL_.*ALERT_(BAD_CERTIFICATE|CERTIFICATE_REQUIRED|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)$/.test(code)) {
    return `the daemon refused the client certificate (${code}): it requires one signed by its CA in tls_cert and tls_key`;
  }
  if (err?.statusCode === 400 && /HTTP request to an HTTPS server/i.test(daemonMessage(e))) return "the daemon speaks TLS but no tls_* field is set (tls_ca, tls_cert, tls_key)";
  return undefined;
}

/** Map any failure of a daemon call; `what` says what was being done ("creating the container"). */
export function dockerError(e: unknown, host: string, what: string): ExecError {
  if (e instanceof ExecError) return e;
  const tls = tlsProblem(e);
  if (tls) return new ExecError("PERMISSION_DENIED", `docker daemon at ${host}: TLS: ${tls}, while ${what}`);
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
