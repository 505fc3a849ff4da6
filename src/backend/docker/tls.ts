/**
 * TLS for tcp:// docker hosts: the entry's tls_ca / tls_cert / tls_key files, or — when the
 * host itself comes from $DOCKER_HOST and no tls_* field is set — the docker CLI's
 * environment ($DOCKER_TLS_VERIFY or $DOCKER_TLS, certificates in $DOCKER_CERT_PATH or
 * ~/.docker as ca.pem, cert.pem, key.pem). The server is always verified: its certificate
 * must chain to tls_ca (else the system CAs) and name the host connected to.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ExecError } from "../../errors.js";
import type { DockerEntry } from "./entry.js";

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
  /** How the server is verified and who we are, for `moonexec check`. */
  source: string;
}

export const TLS_FIELDS = ["tls_ca", "tls_cert", "tls_key"] as const;
type TlsField = (typeof TLS_FIELDS)[number];

/** `~` and relative paths as for exec.ssh's identity_file: home, then the working directory. */
function expand(p: string): string {
  return resolve(p === "~" || p.startsWith("~/") ? homedir() + p.slice(1) : p);
}

/** Whether the docker CLI's environment asks for TLS. */
export function envWantsTls(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.DOCKER_TLS_VERIFY || !!env.DOCKER_TLS;
}

/** The files to use, or undefined for plain HTTP; throws only for a half client pair in $DOCKER_CERT_PATH. */
export function tlsFiles(entry: DockerEntry, env: NodeJS.ProcessEnv = process.env): Partial<Record<TlsField, { path: string; label: string }>> | undefined {
  if (TLS_FIELDS.some((f) => entry[f] !== undefined)) {
    const out: Partial<Record<TlsField, { path: string; label: string }>> = {};
    for (const f of TLS_FIELDS) {
      const p = entry[f];
      if (p !== undefined) out[f] = { path: expand(p), label: `field '${f}'` };
    }
    return out;
  }
  if (entry.host !== undefined || !envWantsTls(env)) return undefined;
  // As the docker CLI does: the files of the cert directory that exist are used.
  const dir = env.DOCKER_CERT_PATH ? expand(env.DOCKER_CERT_PATH) : join(homedir(), ".docker");
  const out: Partial<Record<TlsField, { path: string; label: string }>> = {};
  const names: Record<TlsField, string> = { tls_ca: "ca.pem", tls_cert: "cert.pem", tls_key: "key.pem" };
  for (const f of TLS_FIELDS) {
    const path = join(dir, names[f]);
    if (existsSync(path)) out[f] = { path, label: `${names[f]} in ${env.DOCKER_CERT_PATH ? "$DOCKER_CERT_PATH" : "~/.docker"}` };
  }
  if ((out.tls_cert === undefined) !== (out.tls_key === undefined)) {
    const missing = out.tls_cert === undefined ? "cert.pem" : "key.pem";
    throw new ExecError("INVALID", `${entry.where}: $DOCKER_TLS_VERIFY is set but ${join(dir, missing)} is missing (a client certificate needs both cert.pem and key.pem)`);
  }
  return out;
}

/** Read and check the files; every error names the entry and the field (or env file). */
export function readTls(entry: DockerEntry, env: NodeJS.ProcessEnv = process.env): TlsMaterial | undefined {
  const files = tlsFiles(entry, env);
  if (!files) return undefined;
  const fail = (f: TlsField, msg: string): never => {
    throw new ExecError("INVALID", `${entry.where}: ${files[f]!.label}: ${msg}`);
  };
  const read = (f: TlsField): string | undefined => {
    const file = files[f];
    if (!file) return undefined;
    try {
      return readFileSync(file.path, "utf8");
    } catch (e) {
      return fail(f, `cannot read ${file.path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  const ca = read("tls_ca");
  const cert = read("tls_cert");
  const key = read("tls_key");
  let certificate: X509Certificate | undefined;
  try {
    if (ca !== undefined) new X509Certificate(ca);
  } catch (e) {
    fail("tls_ca", `${files.tls_ca!.path} is not a PEM certificate (${(e as Error).message})`);
  }
  try {
    if (cert !== undefined) certificate = new X509Certificate(cert);
  } catch (e) {
    fail("tls_cert", `${files.tls_cert!.path} is not a PEM certificate (${(e as Error).message})`);
  }
  if (key !== undefined) {
    let privateKey;
    try {
      privateKey = createPrivateKey(key);
    } catch (e) {
      return fail("tls_key", `${files.tls_key!.path} is not a usable PEM private key (${(e as Error).message}); passphrase-protected keys are not supported`);
    }
    if (certificate && !certificate.checkPrivateKey(privateKey)) fail("tls_key", `${files.tls_key!.path} is not the private key of the certificate in ${files.tls_cert!.path}`);
  }
  const verified = files.tls_ca ? `the CA in ${files.tls_ca.path} (${files.tls_ca.label})` : "the system's CAs";
  const identity = files.tls_cert ? `client certificate ${files.tls_cert.path}` : "no client certificate";
  return { ca, cert, key, source: `server verified against ${verified}; ${identity}` };
}
