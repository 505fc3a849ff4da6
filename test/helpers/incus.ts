/**
 * The Incus backends under test: the local unix socket ("incus") and HTTPS with a pinned
 * server certificate ("incus-https"), both against the instance made by
 * scripts/incus-setup.sh, which describes itself in /var/lib/moonexec-test/incus/env.
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { spawn } from "node:child_process";
import { registerBackend, type BackendUnderTest } from "./backends.js";

export const INCUS_ENV_FILE = "/var/lib/moonexec-test/incus/env";

export interface IncusTestEnv {
  instance: string;
  stoppedInstance: string;
  image: string;
  socket: string;
  https: string;
  clientCert: string;
  clientKey: string;
  serverCert: string;
  serverFingerprint: string;
  serverName: string;
}

function readEnv(): IncusTestEnv | undefined {
  if (!existsSync(INCUS_ENV_FILE)) return undefined;
  const kv: Record<string, string> = {};
  for (const line of readFileSync(INCUS_ENV_FILE, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) kv[m[1]!] = m[2]!;
  }
  return {
    instance: kv.INCUS_TEST_INSTANCE ?? "moonexec-test",
    stoppedInstance: kv.INCUS_TEST_STOPPED_INSTANCE ?? "moonexec-stopped",
    image: kv.INCUS_TEST_IMAGE ?? "moonexec-busybox",
    socket: kv.INCUS_TEST_SOCKET ?? "/var/lib/incus/unix.socket",
    https: kv.INCUS_TEST_HTTPS ?? "https://127.0.0.1:8443",
    clientCert: kv.INCUS_TEST_CLIENT_CERT ?? "",
    clientKey: kv.INCUS_TEST_CLIENT_KEY ?? "",
    serverCert: kv.INCUS_TEST_SERVER_CERT ?? "",
    serverFingerprint: kv.INCUS_TEST_SERVER_FINGERPRINT ?? "",
    serverName: kv.INCUS_TEST_SERVER_NAME ?? "",
  };
}

/** The test setup, or placeholders when scripts/incus-setup.sh has not run (tests then skip). */
export const incusEnv: IncusTestEnv = readEnv() ?? {
  instance: "moonexec-test",
  stoppedInstance: "moonexec-stopped",
  image: "moonexec-busybox",
  socket: "/var/lib/incus/unix.socket",
  https: "https://127.0.0.1:8443",
  clientCert: "/var/lib/moonexec-test/incus/client.crt",
  clientKey: "/var/lib/moonexec-test/incus/client.key",
  serverCert: "/var/lib/moonexec-test/incus/server.crt",
  serverFingerprint: "0".repeat(64),
  serverName: "",
};

/** GET a path on the local daemon over the unix socket; JSON metadata or an error message. */
export function incusGet(path: string, socket = incusEnv.socket, timeoutMs = 5000): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, host: "incus", timeout: timeoutMs }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        try {
          const env = JSON.parse(body);
          if (env.type === "error") reject(new Error(`${path}: ${env.error}`));
          else resolve(env.metadata);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`${path}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Run the `incus` CLI (stdin closed: some subcommands read YAML from a piped stdin); resolves with stdout. */
export function incusCli(args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("incus", args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`incus ${args.join(" ")}: exit ${code}: ${err.trim()}`))));
  });
}

let unixCheck: Promise<string | undefined> | undefined;
function unixUnavailable(): Promise<string | undefined> {
  unixCheck ??= (async () => {
    if (!existsSync(INCUS_ENV_FILE)) return `${INCUS_ENV_FILE} missing: run scripts/incus-setup.sh (as root)`;
    if (!existsSync(incusEnv.socket)) return `no Incus socket at ${incusEnv.socket}: run scripts/incus-setup.sh`;
    try {
      const inst = await incusGet(`/1.0/instances/${incusEnv.instance}`);
      if (inst.status !== "Running") return `instance ${incusEnv.instance} is ${inst.status}: run scripts/incus-setup.sh`;
    } catch (e) {
      return `Incus daemon at ${incusEnv.socket} not answering (${(e as Error).message}): run scripts/incus-setup.sh`;
    }
    return undefined;
  })();
  return unixCheck;
}

let httpsCheck: Promise<string | undefined> | undefined;
function httpsUnavailable(): Promise<string | undefined> {
  httpsCheck ??= (async () => {
    const local = await unixUnavailable();
    if (local) return local;
    for (const f of [incusEnv.clientCert, incusEnv.clientKey, incusEnv.serverCert]) {
      if (!f || !existsSync(f)) return `certificate file ${f || "(unset)"} missing: run scripts/incus-setup.sh`;
    }
    const auth = await new Promise<string>((resolve) => {
      const url = new URL("/1.0", incusEnv.https);
      const req = httpsRequest(
        url,
        { cert: readFileSync(incusEnv.clientCert), key: readFileSync(incusEnv.clientKey), ca: readFileSync(incusEnv.serverCert), servername: incusEnv.serverName || undefined, timeout: 5000 },
        (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => {
            try {
              resolve(JSON.parse(body).metadata?.auth ?? "unknown");
            } catch {
              resolve("unparseable answer");
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (e) => resolve(`error ${e.message}`));
      req.end();
    });
    if (auth !== "trusted") return `Incus HTTPS at ${incusEnv.https}: ${auth} (run scripts/incus-setup.sh)`;
    return undefined;
  })();
  return httpsCheck;
}

export const incusUnix: BackendUnderTest = {
  name: "incus",
  entryYaml: `name: box\nkind: exec.incus\ninstance: ${incusEnv.instance}\nremote: "unix:${incusEnv.socket}"`,
  unavailable: unixUnavailable,
};

export const incusHttps: BackendUnderTest = {
  name: "incus-https",
  entryYaml: [
    "name: box",
    "kind: exec.incus",
    `instance: ${incusEnv.instance}`,
    `remote: "${incusEnv.https}"`,
    `client_cert: "${incusEnv.clientCert}"`,
    `client_key: "${incusEnv.clientKey}"`,
    `server_fingerprint: "${incusEnv.serverFingerprint}"`,
  ].join("\n"),
  unavailable: httpsUnavailable,
};

registerBackend(incusUnix);
registerBackend(incusHttps);
