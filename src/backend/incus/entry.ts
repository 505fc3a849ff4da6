/** The config entry of kind exec.incus: its fields and their cross-field rules. */
import { ConfigError } from "../../errors.js";
import type { FieldType } from "../contract.js";
import { REQUEST_TIMEOUT_FIELD, validateRequestTimeout } from "../request-timeout.js";
import type { Entry } from "../../config/entry.js";
import { normalizeFingerprint, parseRemote } from "./remote-url.js";

export type IncusEntry = Entry & {
  instance: string;
  project?: string;
  remote?: string;
  client_cert?: string;
  client_key?: string;
  server_cert?: string;
  server_fingerprint?: string;
  insecure_skip_verify?: boolean;
  user?: number;
  group?: number;
  warm_sessions?: number;
  request_timeout?: number;
};

export const DEFAULT_PROJECT = "default";

export const INCUS_FIELDS: Record<string, FieldType> = {
  instance: "string",
  project: "string",
  remote: "string",
  client_cert: "string",
  client_key: "string",
  server_cert: "string",
  server_fingerprint: "string",
  insecure_skip_verify: "boolean",
  user: "integer",
  group: "integer",
  warm_sessions: "integer",
  ...REQUEST_TIMEOUT_FIELD,
};

const TLS_FIELDS = ["client_cert", "client_key", "server_cert", "server_fingerprint", "insecure_skip_verify"] as const;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const UINT32_MAX = 4294967295;

export function validateIncusEntry(entry: IncusEntry, where: string): void {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: field '${field}' ${msg}`);
  };
  if (entry.instance === undefined) fail("instance", "is required for kind exec.incus (the name of the Incus instance)");
  if (!NAME.test(entry.instance) || entry.instance.length > 63) fail("instance", `must be an Incus instance name, got "${entry.instance}"`);
  if (entry.project !== undefined && !NAME.test(entry.project)) fail("project", `must be an Incus project name, got "${entry.project}"`);
  const dir = entry.default_work_dir;
  if (dir !== undefined && !dir.startsWith("/")) fail("default_work_dir", `must be an absolute path inside the instance, got "${dir}"`);
  for (const f of ["user", "group"] as const) {
    const v = entry[f];
    if (v !== undefined && (v < 0 || v > UINT32_MAX)) fail(f, `must be a numeric id between 0 and ${UINT32_MAX}, got ${v}`);
  }
  validateRequestTimeout(entry, where);
  if (entry.warm_sessions !== undefined && (entry.warm_sessions < 0 || entry.warm_sessions > 16)) {
    fail("warm_sessions", `must be between 0 (off) and 16, got ${entry.warm_sessions}`);
  }
  let remote: ReturnType<typeof parseRemote>;
  try {
    remote = parseRemote(entry.remote);
  } catch (e) {
    return fail("remote", `must be "unix" (the local socket, the default), "unix:/path/to/unix.socket" or "https://host:port", got "${entry.remote}" (${(e as Error).message})`);
  }
  if (remote.kind === "unix") {
    for (const f of TLS_FIELDS) {
      if (entry[f] !== undefined) fail(f, `applies only to an https remote (remote is the local unix socket)`);
    }
    return;
  }
  if (entry.client_cert === undefined) fail("client_cert", `is required for the https remote ${entry.remote} (PEM file of a client certificate the server trusts)`);
  if (entry.client_key === undefined) fail("client_key", `is required for the https remote ${entry.remote} (PEM file of the client certificate's private key)`);
  const pins = [entry.server_cert !== undefined, entry.server_fingerprint !== undefined, entry.insecure_skip_verify === true].filter(Boolean).length;
  if (pins === 0) {
    fail("server_cert", `or 'server_fingerprint' is required for the https remote ${entry.remote}: pin the server's certificate (or set insecure_skip_verify: true explicitly)`);
  }
  if (entry.server_cert !== undefined && entry.server_fingerprint !== undefined) fail("server_fingerprint", "cannot be combined with 'server_cert': pin the server one way");
  if (entry.insecure_skip_verify === true && pins > 1) {
    fail("insecure_skip_verify", `cannot be combined with '${entry.server_cert !== undefined ? "server_cert" : "server_fingerprint"}': a pinned certificate is verified`);
  }
  if (entry.server_fingerprint !== undefined && !/^[0-9a-f]{64}$/.test(normalizeFingerprint(entry.server_fingerprint))) {
    fail("server_fingerprint", `must be the sha256 fingerprint of the server certificate (64 hex digits, colons allowed), got "${entry.server_fingerprint}"`);
  }
}
