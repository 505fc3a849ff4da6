/** The config entry of kind exec.ssh: its fields and their cross-field rules. */
import { ConfigError } from "../../errors.js";
import type { FieldType } from "../contract.js";
import type { Entry } from "../../config/entry.js";
import { parseHostKeyPin } from "./host-key-pin.js";

export type SshEntry = Entry & {
  host: string;
  port?: number;
  user?: string;
  identity_file?: string;
  agent?: boolean;
  known_hosts?: string;
  host_key?: string;
  insecure_accept_any_host_key?: boolean;
  connect_timeout?: number;
  jump?: string;
  max_sessions?: number;
};

export const SSH_FIELDS: Record<string, FieldType> = {
  host: "string",
  port: "integer",
  user: "string",
  identity_file: "string",
  agent: "boolean",
  known_hosts: "string",
  host_key: "string",
  insecure_accept_any_host_key: "boolean",
  connect_timeout: "integer",
  jump: "string",
  max_sessions: "integer",
};

export const DEFAULT_PORT = 22;
export const DEFAULT_CONNECT_TIMEOUT = 10;
/** OpenSSH's default MaxSessions. */
export const DEFAULT_MAX_SESSIONS = 10;

// A host name or an IPv4/IPv6 literal: no spaces, no user@, no :port (those have fields).
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]+\]?)$/;
const USER = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/;

export interface JumpHost {
  user?: string;
  host: string;
  port: number;
}

/** `[user@]host[:port]`, IPv6 literals in brackets. Throws a message (without the field name). */
export function parseJump(spec: string): JumpHost {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(spec);
  if (!m) throw new Error(`must be "[user@]host[:port]", got "${spec}"`);
  const [, user, rawHost, rawPort] = m;
  if (user !== undefined && !USER.test(user)) throw new Error(`has an invalid user name "${user}"`);
  const host = rawHost!.startsWith("[") ? rawHost!.slice(1, -1) : rawHost!;
  if (!HOST.test(host)) throw new Error(`has an invalid host "${host}"`);
  const port = rawPort === undefined ? DEFAULT_PORT : Number(rawPort);
  if (port < 1 || port > 65535) throw new Error(`has an invalid port ${rawPort}`);
  return { user, host, port };
}

export function validateSshEntry(entry: SshEntry, where: string): void {
  const fail = (field: string, msg: string): never => {
    throw new ConfigError(`${where}: field '${field}' ${msg}`);
  };
  if (entry.host === undefined) fail("host", "is required for kind exec.ssh (the server's name or address)");
  if (!HOST.test(entry.host)) fail("host", `must be a host name or IP address (user and port have their own fields), got "${entry.host}"`);
  if (entry.port !== undefined && (entry.port < 1 || entry.port > 65535)) fail("port", `must be between 1 and 65535, got ${entry.port}`);
  if (entry.user !== undefined && !USER.test(entry.user)) fail("user", `must be a user name, got "${entry.user}"`);
  if (entry.identity_file !== undefined && entry.identity_file.trim() === "") fail("identity_file", "must be a path to a private key file");
  if (entry.identity_file === undefined && entry.agent !== true) {
    fail("identity_file", "or 'agent: true' (the ssh-agent at $SSH_AUTH_SOCK) is required for kind exec.ssh");
  }
  if (entry.identity_file !== undefined && entry.agent === true) fail("agent", "cannot be combined with 'identity_file': authenticate one way");
  const checks = [entry.known_hosts !== undefined, entry.host_key !== undefined, entry.insecure_accept_any_host_key === true].filter(Boolean).length;
  if (checks > 1) {
    fail(
      entry.insecure_accept_any_host_key === true ? "insecure_accept_any_host_key" : "host_key",
      "cannot be combined with 'known_hosts' or 'host_key': check the host key one way",
    );
  }
  if (entry.host_key !== undefined) {
    try {
      parseHostKeyPin(entry.host_key);
    } catch (e) {
      fail("host_key", (e as Error).message);
    }
  }
  if (entry.connect_timeout !== undefined && (entry.connect_timeout < 1 || entry.connect_timeout > 600)) {
    fail("connect_timeout", `must be between 1 and 600 seconds, got ${entry.connect_timeout}`);
  }
  if (entry.max_sessions !== undefined && (entry.max_sessions < 2 || entry.max_sessions > 256)) {
    fail("max_sessions", `must be between 2 and 256 (the server's MaxSessions), got ${entry.max_sessions}`);
  }
  if (entry.jump !== undefined) {
    try {
      parseJump(entry.jump);
    } catch (e) {
      fail("jump", (e as Error).message);
    }
  }
  const dir = entry.default_work_dir;
  if (dir !== undefined && dir.trim() === "") fail("default_work_dir", "must not be empty");
}
