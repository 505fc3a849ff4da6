/**
 * Opening one authenticated SSH connection (ssh2 Client) to the entry's host, through the
 * jump host when there is one. Host keys are checked before authentication (host-key.ts);
 * every failure becomes an ExecError that names the host.
 */
import { readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { resolve } from "node:path";
import type { Duplex } from "node:stream";
import ssh2 from "ssh2";
import type { Client as ClientType, ConnectConfig } from "ssh2";
import { ExecError } from "../../errors.js";
import { checkHostKey, type HostKeyCheck } from "./host-key.js";
import { parseHostKeyPin } from "./host-key-pin.js";
import { DEFAULT_CONNECT_TIMEOUT, DEFAULT_PORT, parseJump, type SshEntry } from "./entry.js";

const { Client } = ssh2;
export type Client = ClientType;

/** Dead peers (no RST: a cut cable, a frozen host) are found within about 3 × this. */
const KEEPALIVE_MS = 10_000;

export interface Target {
  host: string;
  port: number;
  user: string;
}

export interface ConnectSettings {
  target: Target;
  jump?: Target;
  timeoutMs: number;
  /** For the target; the jump host is checked against known_hosts (or not at all with "any"). */
  hostKey: HostKeyCheck;
  jumpHostKey: HostKeyCheck;
  auth: { privateKey: Buffer; identityFile: string } | { agent: string };
}

export function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? homedir() + p.slice(1) : p;
}

export function label(t: Target): string {
  return `${t.user}@${t.host}:${t.port}`;
}

/** The entry's settings; reads the key file, so a missing key fails at open() naming the field. */
export function settingsOf(entry: SshEntry): ConnectSettings {
  const user = entry.user ?? userInfo().username;
  const target = { host: entry.host, port: entry.port ?? DEFAULT_PORT, user };
  const jumpSpec = entry.jump !== undefined ? parseJump(entry.jump) : undefined;
  const jump = jumpSpec ? { host: jumpSpec.host, port: jumpSpec.port, user: jumpSpec.user ?? user } : undefined;
  const knownHosts: HostKeyCheck = { kind: "known_hosts", file: resolve(expandHome(entry.known_hosts ?? "~/.ssh/known_hosts")) };
  let hostKey: HostKeyCheck = knownHosts;
  if (entry.host_key !== undefined) hostKey = { kind: "pin", pin: parseHostKeyPin(entry.host_key) };
  if (entry.insecure_accept_any_host_key === true) hostKey = { kind: "any" };
  const jumpHostKey: HostKeyCheck = entry.insecure_accept_any_host_key === true ? { kind: "any" } : knownHosts;
  let auth: ConnectSettings["auth"];
  if (entry.identity_file !== undefined) {
    const file = resolve(expandHome(entry.identity_file));
    let privateKey: Buffer;
    try {
      privateKey = readFileSync(file);
    } catch (e) {
      throw new ExecError("NOT_FOUND", `${entry.where}: field 'identity_file': cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const parsed = ssh2.utils.parseKey(privateKey);
    if (parsed instanceof Error) {
      throw new ExecError("INVALID", `${entry.where}: field 'identity_file': ${file} is not a usable private key (${parsed.message}); passphrase-protected keys need 'agent: true'`);
    }
    auth = { privateKey, identityFile: file };
  } else {
    const sock = process.env.SSH_AUTH_SOCK;
    if (!sock) throw new ExecError("UNAVAILABLE", `${entry.where}: field 'agent': SSH_AUTH_SOCK is not set (no ssh-agent to ask)`);
    auth = { agent: sock };
  }
  return { target, jump, timeoutMs: (entry.connect_timeout ?? DEFAULT_CONNECT_TIMEOUT) * 1000, hostKey, jumpHostKey, auth };
}

/** Connect and authenticate; resolves with a ready client (and the jump client to close with it). */
export async function connect(s: ConnectSettings): Promise<{ client: Client; jumpClient?: Client }> {
  if (!s.jump) return { client: await open(s, s.target, s.hostKey) };
  const jumpClient = await open(s, s.jump, s.jumpHostKey);
  try {
    const sock = await new Promise<Duplex>((res, rej) => {
      const timer = setTimeout(() => rej(new ExecError("TIMEOUT", `jump host ${label(s.jump!)}: no tunnel to ${s.target.host}:${s.target.port} within ${s.timeoutMs / 1000} s`)), s.timeoutMs);
      jumpClient.forwardOut("127.0.0.1", 0, s.target.host, s.target.port, (err, stream) => {
        clearTimeout(timer);
        if (err) rej(new ExecError("UNAVAILABLE", `jump host ${label(s.jump!)} cannot reach ${s.target.host}:${s.target.port}: ${err.message}`));
        else res(stream);
      });
    });
    const client = await open(s, s.target, s.hostKey, sock);
    // The target's connection lives in the jump connection: one going means both.
    client.once("close", () => jumpClient.end());
    jumpClient.once("close", () => client.end());
    return { client, jumpClient };
  } catch (e) {
    jumpClient.end();
    throw e;
  }
}

function open(s: ConnectSettings, t: Target, check: HostKeyCheck, sock?: Duplex): Promise<Client> {
  const name = label(t);
  return new Promise((resolvePromise, reject) => {
    const client = new Client();
    let refused: string | undefined;
    let settled = false;
    const timer = setTimeout(() => fail(new ExecError("TIMEOUT", `ssh ${name}: no connection within connect_timeout (${s.timeoutMs / 1000} s)`)), s.timeoutMs);
    function fail(e: ExecError): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      client.destroy();
      reject(e);
    }
    client.on("error", (e: Error & { level?: string; code?: string }) => {
      if (settled) return; // errors after ready are seen by the pool as 'close'
      if (refused !== undefined) return fail(new ExecError("PERMISSION_DENIED", `ssh ${name}: ${refused}`));
      if (e.level === "client-authentication") {
        const how = "identityFile" in s.auth ? `the key ${s.auth.identityFile}` : `the keys of the ssh-agent at ${s.auth.agent}`;
        return fail(new ExecError("PERMISSION_DENIED", `ssh ${name}: authentication failed with ${how} (is its public key in ${t.user}'s authorized_keys?)`));
      }
      if (e.level === "client-timeout") return fail(new ExecError("TIMEOUT", `ssh ${name}: no handshake within connect_timeout (${s.timeoutMs / 1000} s)`));
      const code = e.code ? ` (${e.code})` : "";
      fail(new ExecError("UNAVAILABLE", `ssh ${name}: ${e.message}${code}`));
    });
    client.once("close", () => fail(new ExecError("UNAVAILABLE", `ssh ${name}: the server closed the connection before login`)));
    client.once("ready", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolvePromise(client);
    });
    const cfg: ConnectConfig = {
      host: t.host,
      port: t.port,
      username: t.user,
      readyTimeout: s.timeoutMs,
      keepaliveInterval: KEEPALIVE_MS,
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        const v = checkHostKey(check, t.host, t.port, key, name);
        if (!v.ok) refused = v.message;
        return v.ok;
      },
    };
    if (sock) cfg.sock = sock;
    if ("privateKey" in s.auth) cfg.privateKey = s.auth.privateKey;
    else cfg.agent = s.auth.agent;
    client.connect(cfg);
  });
}
