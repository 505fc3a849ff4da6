/** Incus failures → ExecError kinds with messages that say what to do. */
import { ExecError } from "../../errors.js";
import type { Remote } from "./remote.js";

/** TLS verification failures: the server is not the pinned one. */
const TLS_VERIFY = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT/;

/** A connection-level failure (socket missing, refused, TLS). */
export function transportError(e: unknown, remote: Remote): ExecError {
  if (e instanceof ExecError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? "";
  if (remote.kind === "https" && TLS_VERIFY.test(code)) {
    const pin = remote.pinning;
    const what =
      pin.mode === "server_cert"
        ? `server_cert ${pin.file} (sha256 ${pin.fingerprint})`
        : pin.mode === "server_fingerprint"
          ? `server_fingerprint ${pin.fingerprint}`
          : "the certificate";
    return new ExecError("PERMISSION_DENIED", `server certificate pinning failed for ${remote.address}: the server's certificate does not match ${what} (${code}: ${err.message})`);
  }
  if (code === "EACCES" || code === "EPERM") {
    return new ExecError("PERMISSION_DENIED", `cannot connect to Incus at ${remote.address}: permission denied (run as root or as a member of the incus-admin group)`);
  }
  const hint = remote.kind === "unix" ? " (is incusd running? set INCUS_SOCKET or 'remote' to another socket)" : "";
  const detail = code ? `${code}${err.message && !err.message.includes(code) ? ` ${err.message}` : ""}` : err.message;
  return new ExecError("UNAVAILABLE", `cannot reach Incus at ${remote.address}: ${detail}${hint}`);
}

/** An error answer of the Incus API (status code + the server's words). */
export function apiError(status: number, serverMessage: string, remote: Remote, what: string): ExecError {
  const said = serverMessage || `HTTP ${status}`;
  if (status === 403) {
    if (remote.kind === "https") {
      return new ExecError(
        "PERMISSION_DENIED",
        `Incus at ${remote.address} refused ${what}: ${said} — the client certificate is not trusted by the server (add it with 'incus config trust add-certificate CERT' on the server)`,
      );
    }
    return new ExecError("PERMISSION_DENIED", `Incus at ${remote.address} refused ${what}: ${said}`);
  }
  if (status === 404) return new ExecError("NOT_FOUND", `${what}: ${said}`);
  if (/not running|frozen|is stopped|is paused/i.test(said)) return new ExecError("STATE", `${what}: ${said}`);
  if (status >= 500) return new ExecError("UNAVAILABLE", `${what}: Incus at ${remote.address} failed: ${said}`);
  return new ExecError("INVALID", `${what}: ${said}`);
}
