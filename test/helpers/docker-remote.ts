/**
 * Remote Docker daemons under test: the local dockerd's TLS listener on 127.0.0.1:2376
 * (scripts/docker-setup.sh, env in /var/lib/moonexec-test/docker-tls/env) and the same
 * daemon over ssh:// as root on the loopback sshd of scripts/ssh-setup.sh (root can reach
 * /var/run/docker.sock; the test user cannot).
 */
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:tls";
import { registerBackend, type BackendUnderTest } from "./backends.js";
import { dockerUnavailable, TEST_IMAGE } from "./docker.js";
import { sshEnv, sshUnavailable } from "./ssh.js";

export const TLS_ENV_FILE = "/var/lib/moonexec-test/docker-tls/env";

function readEnv(): Record<string, string> {
  if (!existsSync(TLS_ENV_FILE)) return {};
  const kv: Record<string, string> = {};
  for (const line of readFileSync(TLS_ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  return kv;
}

const kv = readEnv();
export const tlsEnv = {
  host: kv.DOCKER_TLS_TEST_HOST ?? "tcp://127.0.0.1:2376",
  ca: kv.DOCKER_TLS_TEST_CA ?? "",
  cert: kv.DOCKER_TLS_TEST_CERT ?? "",
  key: kv.DOCKER_TLS_TEST_KEY ?? "",
  wrongCa: kv.DOCKER_TLS_TEST_WRONG_CA ?? "",
};

/** The TLS handshake with the client certificate works: undefined, else why not. */
function handshake(): Promise<string | undefined> {
  const u = new URL(tlsEnv.host);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port), ca: readFileSync(tlsEnv.ca), cert: readFileSync(tlsEnv.cert), key: readFileSync(tlsEnv.key) });
    const timer = setTimeout(() => (s.destroy(), resolve("no TLS handshake in 5 s")), 5000);
    s.once("secureConnect", () => (clearTimeout(timer), s.end(), resolve(undefined)));
    s.once("error", (e) => (clearTimeout(timer), resolve(e.message)));
  });
}

let tlsCheck: Promise<string | undefined> | undefined;
export function tlsUnavailable(): Promise<string | undefined> {
  tlsCheck ??= (async () => {
    const local = await dockerUnavailable();
    if (local) return local;
    if (!existsSync(TLS_ENV_FILE)) return `${TLS_ENV_FILE} missing: run scripts/docker-setup.sh (as root)`;
    for (const f of [tlsEnv.ca, tlsEnv.cert, tlsEnv.key, tlsEnv.wrongCa]) if (!f || !existsSync(f)) return `${f || "(unset)"} missing: run scripts/docker-setup.sh`;
    const why = await handshake();
    return why ? `dockerd's TLS listener at ${tlsEnv.host}: ${why}: run scripts/docker-setup.sh` : undefined;
  })();
  return tlsCheck;
}

export async function sshDockerUnavailable(): Promise<string | undefined> {
  return (await dockerUnavailable()) ?? (await sshUnavailable());
}

/** Entry fields (as an object) for the TLS listener; override any. */
export function tlsEntry(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: "exec.docker", image: TEST_IMAGE, host: tlsEnv.host, tls_ca: tlsEnv.ca, tls_cert: tlsEnv.cert, tls_key: tlsEnv.key, ...extra };
}

export const SSH_DOCKER_HOST = sshEnv.hosts[0] ?? "127.0.0.2";

/** Entry fields for docker over ssh:// as root (who can reach the daemon's socket). */
export function sshDockerEntry(user = "root", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "exec.docker",
    image: TEST_IMAGE,
    host: `ssh://${user}@${SSH_DOCKER_HOST}:${sshEnv.port}`,
    identity_file: sshEnv.key,
    known_hosts: sshEnv.knownHosts,
    ...extra,
  };
}

/** The host key of an sshd of the test setup, as known_hosts lists it ("ssh-ed25519 AAAA..."). */
export function hostKeyOf(host: string): string {
  for (const line of readFileSync(sshEnv.knownHosts, "utf8").split("\n")) {
    const [names, type, key] = line.trim().split(/\s+/);
    if (names?.split(",").includes(host) && type && key) return `${type} ${key}`;
  }
  throw new Error(`${host} is not in ${sshEnv.knownHosts}`);
}

function yamlOf(fields: Record<string, unknown>): string {
  return ["name: box", ...Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`)].join("\n");
}

export const dockerTls: BackendUnderTest = { name: "docker (tcp+TLS)", entryYaml: yamlOf(tlsEntry()), unavailable: tlsUnavailable };
export const dockerSshSocket: BackendUnderTest = { name: "docker (ssh:// remote_socket)", entryYaml: yamlOf(sshDockerEntry("root", { remote_socket: "/var/run/docker.sock" })), unavailable: sshDockerUnavailable };
export const dockerSsh: BackendUnderTest = { name: "docker (ssh://)", entryYaml: yamlOf(sshDockerEntry()), unavailable: sshDockerUnavailable };

// The whole conformance suite over these transports takes minutes (each test starts a
// container): opt in with MOONEXEC_CONFORMANCE_REMOTE_DOCKER=1. test/backend/docker-remote.test.ts
// always runs their essentials.
if (process.env.MOONEXEC_CONFORMANCE_REMOTE_DOCKER) {
  registerBackend(dockerTls);
  registerBackend(dockerSshSocket);
}
