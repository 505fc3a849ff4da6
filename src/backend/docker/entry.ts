/** The exec.docker entry: its fields, their checks, and the parsed volume specs. */
import { posix } from "node:path";
import { ConfigError } from "../../errors.js";
import type { Entry } from "../../config/entry.js";
import type { FieldType } from "../contract.js";
import { REQUEST_TIMEOUT_FIELD, validateRequestTimeout } from "../request-timeout.js";
import { entryHost, parseHost, type DockerHost } from "./host-url.js";
import { validateSshEntry, type SshEntry } from "../ssh/entry.js";

export interface DockerEntry extends Entry {
  image: string;
  host?: string;
  network_mode?: string;
  volumes?: string[];
  user?: string;
  memory_limit?: number;
  cpu_quota?: number;
  auto_remove?: boolean;
  read_only_rootfs?: boolean;
  no_new_privileges?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  pids_limit?: number;
  tmpfs?: Record<string, string>;
  pull?: boolean;
  request_timeout?: number;
  tls_ca?: string;
  tls_cert?: string;
  tls_key?: string;
  identity_file?: string;
  agent?: boolean;
  known_hosts?: string;
  host_key?: string;
  insecure_accept_any_host_key?: boolean;
  remote_socket?: string;
}

export const DOCKER_FIELDS: Record<string, FieldType> = {
  image: "string",
  host: "string",
  network_mode: "string",
  volumes: "string[]",
  user: "string",
  memory_limit: "integer",
  cpu_quota: "integer",
  auto_remove: "boolean",
  read_only_rootfs: "boolean",
  no_new_privileges: "boolean",
  cap_drop: "string[]",
  cap_add: "string[]",
  pids_limit: "integer",
  tmpfs: "string-map",
  pull: "boolean",
  ...REQUEST_TIMEOUT_FIELD,
  // tcp:// hosts (tls.ts)
  tls_ca: "string",
  tls_cert: "string",
  tls_key: "string",
  // ssh:// hosts: as the fields of the same names of exec.ssh (ssh-transport.ts)
  identity_file: "string",
  agent: "boolean",
  known_hosts: "string",
  host_key: "string",
  insecure_accept_any_host_key: "boolean",
  remote_socket: "string",
};

const TLS_ONLY = ["tls_ca", "tls_cert", "tls_key"] as const;
const SSH_ONLY = ["identity_file", "agent", "known_hosts", "host_key", "insecure_accept_any_host_key", "remote_socket"] as const;

/** The exec.ssh entry an ssh:// host stands for (its checks and connect code are reused). */
export function sshEntryOf(entry: DockerEntry, host: Extract<DockerHost, { kind: "ssh" }>): SshEntry {
  return {
    id: entry.id,
    name: entry.name,
    kind: "exec.ssh",
    default_env: {},
    where: entry.where,
    host: host.host,
    port: host.port,
    user: host.user,
    identity_file: entry.identity_file,
    agent: entry.agent,
    known_hosts: entry.known_hosts,
    host_key: entry.host_key,
    insecure_accept_any_host_key: entry.insecure_accept_any_host_key,
    // The login's deadline; exec.ssh's connect_timeout allows at most 600 s.
    connect_timeout: entry.request_timeout === undefined ? undefined : Math.min(entry.request_timeout, 600),
  };
}

/** Docker refuses memory limits below 6 MiB. */
export const MIN_MEMORY = 6 * 1024 * 1024;
/** moonexec's own processes in the container: init + its reader, an agent, a command, two relays. */
export const MIN_PIDS = 8;
/** The kernel's limits, beyond which the container fails to start: cpu.cfs_quota_us and pids.max (PID_MAX_LIMIT). */
export const MAX_CPU_QUOTA = 2 ** 44 - 1;
export const MAX_PIDS = 4194304;

export interface VolumeSpec {
  source: string;
  target: string;
  readOnly: boolean;
}

const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** "host:container[:ro|rw]" → spec, or an error text. Host is an absolute path or a named volume. */
export function parseVolume(spec: string): VolumeSpec | string {
  const parts = spec.split(":");
  if (parts.length < 2 || parts.length > 3) return `must be "host:container" or "host:container:ro", got "${spec}"`;
  const [source, target, mode] = parts as [string, string, string | undefined];
  if (!source.startsWith("/") && !VOLUME_NAME.test(source)) return `host side must be an absolute path or a volume name, got "${source}" in "${spec}"`;
  if (!target.startsWith("/")) return `container side must be an absolute path, got "${target}" in "${spec}"`;
  if (posix.normalize(target) === "/") return `container side must not be "/" in "${spec}"`;
  if (mode !== undefined && mode !== "ro" && mode !== "rw") return `mode must be "ro" or "rw", got "${mode}" in "${spec}"`;
  return { source, target, readOnly: mode === "ro" };
}

const CAP = /^(ALL|(CAP_)?[A-Z][A-Z0-9_]*)$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;
const NETWORK = /^(bridge|host|none|default|container:[A-Za-z0-9][A-Za-z0-9_.-]*|[A-Za-z0-9][A-Za-z0-9_.-]*)$/;
const TMPFS_OPTIONS = /^[A-Za-z0-9_=.,:+-]*$/;

/** Cross-field checks after the field types; each error names the field. */
export function validateDockerEntry(entry: DockerEntry, where: string): void {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: field '${field}' ${msg}`);
  };
  validateRequestTimeout(entry, where);
  if (typeof entry.image !== "string" || entry.image.trim() === "") fail("image", "is required for kind exec.docker (e.g. image: alpine:3.20)");
  if (/\s/.test(entry.image)) fail("image", `must not contain spaces, got "${entry.image}"`);
  const hostField = entry.host === undefined ? "host (from $DOCKER_HOST)" : "host";
  const host = parseHost(entryHost(entry.host));
  if (typeof host === "string") return fail(hostField, host);
  for (const f of TLS_ONLY) {
    if (entry[f] === undefined) continue;
    if (host.kind !== "tcp") fail(f, `only applies to a tcp:// host, but ${hostField} is ${host.url}`);
    if (entry[f].trim() === "") fail(f, "must be a path to a PEM file");
  }
  if ((entry.tls_cert === undefined) !== (entry.tls_key === undefined)) {
    const [missing, given] = entry.tls_cert === undefined ? ["tls_cert", "tls_key"] : ["tls_key", "tls_cert"];
    fail(missing, `is required with '${given}' (a client certificate and its private key go together)`);
  }
  for (const f of SSH_ONLY) {
    if (entry[f] !== undefined && host.kind !== "ssh") fail(f, `only applies to an ssh:// host, but ${hostField} is ${host.url}`);
  }
  if (host.kind === "ssh") {
    if (entry.identity_file === undefined && entry.agent !== true) fail("identity_file", `or 'agent: true' (the ssh-agent at $SSH_AUTH_SOCK) is required for the ssh:// host ${host.url}`);
    validateSshEntry(sshEntryOf(entry, host), where);
    const sock = entry.remote_socket;
    if (sock !== undefined && (!sock.startsWith("/") || sock.includes("\0"))) fail("remote_socket", `must be the absolute path of the daemon's socket on the remote (/var/run/docker.sock), got "${sock}"`);
  }
  const dir = entry.default_work_dir;
  if (dir !== undefined && !dir.startsWith("/")) fail("default_work_dir", `must be an absolute path inside the container, got "${dir}"`);
  if (entry.network_mode !== undefined && !NETWORK.test(entry.network_mode)) fail("network_mode", `must be bridge, host, none, container:NAME or a network name, got "${entry.network_mode}"`);
  entry.volumes?.forEach((v, i) => {
    const r = parseVolume(v);
    if (typeof r === "string") fail(`volumes[${i}]`, r);
  });
  if (entry.user !== undefined && !USER.test(entry.user)) fail("user", `must be "user", "uid" or "uid:gid", got "${entry.user}"`);
  if (entry.memory_limit !== undefined && entry.memory_limit < MIN_MEMORY) fail("memory_limit", `must be at least ${MIN_MEMORY} bytes (6 MiB, docker's minimum), got ${entry.memory_limit}`);
  if (entry.cpu_quota !== undefined && entry.cpu_quota < 1000) fail("cpu_quota", `must be at least 1000 (microseconds per 100000; 100000 = 1 CPU), got ${entry.cpu_quota}`);
  if (entry.cpu_quota !== undefined && entry.cpu_quota > MAX_CPU_QUOTA) fail("cpu_quota", `must be at most ${MAX_CPU_QUOTA} (the kernel's limit), got ${entry.cpu_quota}`);
  if (entry.pids_limit !== undefined && entry.pids_limit > MAX_PIDS) fail("pids_limit", `must be at most ${MAX_PIDS} (the kernel's limit), got ${entry.pids_limit}`);
  if (entry.pids_limit !== undefined && entry.pids_limit < MIN_PIDS) fail("pids_limit", `must be at least ${MIN_PIDS} (moonexec itself runs a few processes in the container), got ${entry.pids_limit}`);
  for (const field of ["cap_drop", "cap_add"] as const) {
    entry[field]?.forEach((c, i) => {
      if (!CAP.test(c.toUpperCase())) fail(`${field}[${i}]`, `must be a capability name like NET_ADMIN or ALL, got "${c}"`);
    });
  }
  for (const [path, options] of Object.entries(entry.tmpfs ?? {})) {
    if (!path.startsWith("/") || posix.normalize(path) === "/") fail(`tmpfs.${path}`, "must be keyed by an absolute path other than /");
    if (!TMPFS_OPTIONS.test(options)) fail(`tmpfs.${path}`, `options must look like "size=64m,mode=1777,exec", got "${options}"`);
  }
}
