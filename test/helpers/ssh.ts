/**
 * The SSH backend under test: the loopback sshd instances made by scripts/ssh-setup.sh,
 * which describes them in /var/lib/moonexec-test/ssh/env.
 */
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { registerBackend, type BackendUnderTest } from "./backends.js";

export const SSH_ENV_FILE = "/var/lib/moonexec-test/ssh/env";

export interface SshTestEnv {
  hosts: string[];
  port: number;
  user: string;
  key: string;
  knownHosts: string;
  hostKeys: string;
}

function readEnv(): SshTestEnv | undefined {
  if (!existsSync(SSH_ENV_FILE)) return undefined;
  const kv: Record<string, string> = {};
  for (const line of readFileSync(SSH_ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  return {
    hosts: (kv.SSH_TEST_HOSTS ?? "").split(/\s+/).filter(Boolean),
    port: Number(kv.SSH_TEST_PORT ?? 22),
    user: kv.SSH_TEST_USER ?? "moonexec",
    key: kv.SSH_TEST_KEY ?? "",
    knownHosts: kv.SSH_TEST_KNOWN_HOSTS ?? "",
    hostKeys: kv.SSH_TEST_HOST_KEYS ?? "",
  };
}

/** The test setup, or placeholders when scripts/ssh-setup.sh has not run (tests then skip). */
export const sshEnv: SshTestEnv = readEnv() ?? {
  hosts: ["127.0.0.2"],
  port: 22,
  user: "moonexec",
  key: "/var/lib/moonexec-test/ssh/id_ed25519",
  knownHosts: "/var/lib/moonexec-test/ssh/known_hosts",
  hostKeys: "/var/lib/moonexec-test/ssh/hosts",
};

/** The entry (YAML lines) for executor `box` on a host, as user; extra lines appended. */
export function sshEntry(host = sshEnv.hosts[0]!, user = sshEnv.user, extra: string[] = []): string {
  return [
    "name: box",
    "kind: exec.ssh",
    `host: "${host}"`,
    `port: ${sshEnv.port}`,
    `user: ${user}`,
    `identity_file: "${sshEnv.key}"`,
    `known_hosts: "${sshEnv.knownHosts}"`,
    ...extra,
  ].join("\n");
}

function banner(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => (s.destroy(), resolve("no answer in 3 s")), 3000);
    s.once("data", (d) => {
      clearTimeout(timer);
      s.destroy();
      resolve(d.toString("latin1").startsWith("SSH-") ? "" : "not an SSH server");
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
  });
}

let check: Promise<string | undefined> | undefined;
export function sshUnavailable(): Promise<string | undefined> {
  check ??= (async () => {
    if (!existsSync(SSH_ENV_FILE)) return `${SSH_ENV_FILE} missing: run scripts/ssh-setup.sh (as root)`;
    for (const f of [sshEnv.key, sshEnv.knownHosts]) if (!f || !existsSync(f)) return `${f || "(unset)"} missing: run scripts/ssh-setup.sh`;
    if (sshEnv.hosts.length < 2) return `${SSH_ENV_FILE} lists fewer than 2 hosts: run scripts/ssh-setup.sh`;
    for (const h of sshEnv.hosts) {
      const why = await banner(h, sshEnv.port);
      if (why) return `sshd on ${h}:${sshEnv.port}: ${why}: run scripts/ssh-setup.sh`;
    }
    return undefined;
  })();
  return check;
}

// The conformance suite runs as the test user; root sessions (where sshd ignores signal
// requests) are covered in test/backend/ssh.test.ts.
export const sshUser: BackendUnderTest = { name: "ssh", entryYaml: sshEntry(), unavailable: sshUnavailable };

registerBackend(sshUser);
