/**
 * Where the Incus daemon is and how to talk to it: the local unix socket, or HTTPS with a
 * client certificate and a pinned server certificate.
 *
 * Socket lookup (like the `incus` client): $INCUS_SOCKET, $INCUS_DIR/unix.socket,
 * /run/incus/unix.socket when it exists, else /var/lib/incus/unix.socket.
 *
 * Server pinning over HTTPS:
 * - server_cert (PEM file): trusted as the only CA; the connection is accepted when the
 *   server presents exactly that certificate (any host name, as Incus certificates name
 *   only the machine) or a certificate issued by it for the host name connected to.
 * - server_fingerprint (sha256 of the DER certificate, hex, colons optional): the
 *   certificate is fetched once by a handshake that sends no request, compared, and then
 *   pinned as if given by server_cert. Works for self-signed certificates (what Incus
 *   generates).
 * - insecure_skip_verify: true — no check at all; warns on stderr.
 */
import { existsSync, readFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { ExecError } from "../../errors.js";
import type { IncusEntry } from "./entry.js";
import { normalizeFingerprint, parseRemote } from "./remote-url.js";
import { noAnswer, requestTimeoutMs } from "../request-timeout.js";

export { normalizeFingerprint, parseRemote };

export interface UnixRemote {
  kind: "unix";
  socketPath: string;
  /** For messages: "unix socket /var/lib/incus/unix.socket". */
  address: string;
}

export interface HttpsRemote {
  kind: "https";
  host: string;
  port: number;
  /** For messages and URLs: "https://127.0.0.1:8443". */
  address: string;
  /** TLS options for every connection (REST and websockets). */
  tls: tls.ConnectionOptions;
  /** How the server certificate is checked, for messages. */
  pinning: { mode: "server_cert"; file: string; fingerprint: string } | { mode: "server_fingerprint"; fingerprint: string } | { mode: "insecure" };
}

export type Remote = UnixRemote | HttpsRemote;

/** The unix socket path the local `incus` client would use. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.INCUS_SOCKET) return env.INCUS_SOCKET;
  if (env.INCUS_DIR) return `${env.INCUS_DIR}/unix.socket`;
  if (existsSync("/run/incus/unix.socket")) return "/run/incus/unix.socket";
  return "/var/lib/incus/unix.socket";
}

/** Parse `remote` (config syntax checked already): undefined/"unix"/"unix:PATH"/absolute path, or https URL. */
export function certFingerprint(cert: { fingerprint256?: string } | X509Certificate): string {
  return normalizeFingerprint(cert.fingerprint256 ?? "");
}

/**
 * Build the remote for an entry: reads certificate files, fetches the server certificate
 * for fingerprint pinning. Errors name the entry and field.
 */
export async function resolveRemote(entry: IncusEntry): Promise<Remote> {
  const parsed = parseRemote(entry.remote);
  if (parsed.kind === "unix") {
    const socketPath = parsed.socketPath ?? defaultSocketPath();
    return { kind: "unix", socketPath, address: `unix socket ${socketPath}` };
  }
  const hostPart = parsed.host.includes(":") ? `[${parsed.host}]` : parsed.host;
  const address = `https://${hostPart}:${parsed.port}`;
  const base: tls.ConnectionOptions = {
    host: parsed.host,
    port: parsed.port,
    cert: readPem(entry, "client_cert"),
    key: readPem(entry, "client_key"),
    minVersion: "TLSv1.2",
    // Incus certificates carry no DNS name matching an IP; identity is checked by pinning.
    servername: isIp(parsed.host) ? undefined : parsed.host,
  };
  if (entry.insecure_skip_verify === true && entry.server_cert === undefined && entry.server_fingerprint === undefined) {
    process.stderr.write(
      `moonexec: warning: ${entry.where}: insecure_skip_verify is set: the certificate of the Incus server at ${address} is not verified\n`,
    );
    return { kind: "https", host: parsed.host, port: parsed.port, address, tls: { ...base, rejectUnauthorized: false }, pinning: { mode: "insecure" } };
  }
  let pem: string;
  let pinning: HttpsRemote["pinning"];
  if (entry.server_cert !== undefined) {
    pem = readPem(entry, "server_cert");
    let fp: string;
    try {
      fp = certFingerprint(new X509Certificate(pem));
    } catch (e) {
      throw new ExecError("INVALID", `${entry.where}: field 'server_cert': ${entry.server_cert} is not a PEM certificate (${(e as Error).message})`);
    }
    pinning = { mode: "server_cert", file: entry.server_cert, fingerprint: fp };
  } else {
    const want = normalizeFingerprint(entry.server_fingerprint!);
    const got = await fetchServerCertificate(parsed.host, parsed.port, base, address, requestTimeoutMs(entry));
    const fp = certFingerprint(got);
    if (fp !== want) {
      throw new ExecError(
        "PERMISSION_DENIED",
        `server certificate pinning failed for ${address}: the server presented a certificate with sha256 fingerprint ${fp}, but server_fingerprint is ${want} (${entry.where})`,
      );
    }
    pem = got.toString();
    pinning = { mode: "server_fingerprint", fingerprint: fp };
  }
  const pinnedFp = pinning.fingerprint;
  const checkServerIdentity = (host: string, cert: tls.PeerCertificate): Error | undefined => {
    // The pinned certificate itself: host names do not matter (Incus certificates name the machine).
    if (certFingerprint(cert) === pinnedFp) return undefined;
    return tls.checkServerIdentity(host, cert);
  };
  return {
    kind: "https",
    host: parsed.host,
    port: parsed.port,
    address,
    tls: { ...base, ca: [pem], rejectUnauthorized: true, checkServerIdentity },
    pinning,
  };
}

function readPem(entry: IncusEntry, field: "client_cert" | "client_key" | "server_cert"): string {
  const path = entry[field];
  if (path === undefined) throw new ExecError("INVALID", `${entry.where}: field '${field}' is required for an https remote`);
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw new ExecError("INVALID", `${entry.where}: field '${field}': cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function isIp(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(":");
}

/** One TLS handshake (no request sent) to learn the server certificate. */
export function fetchServerCertificate(host: string, port: number, base: tls.ConnectionOptions, address: string, timeoutMs: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ ...base, host, port, rejectUnauthorized: false });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(noAnswer(`incus at ${address}`, "the TLS handshake", timeoutMs));
    });
    socket.once("secureConnect", () => {
      const raw = socket.getPeerX509Certificate?.();
      socket.destroy();
      if (!raw) reject(new ExecError("UNAVAILABLE", `Incus at ${address} presented no server certificate`));
      else resolve(raw);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      socket.destroy();
      reject(new ExecError("UNAVAILABLE", `cannot reach Incus at ${address}: ${e.code ?? ""} ${e.message}`.replace(/\s+/g, " ")));
    });
  });
}
