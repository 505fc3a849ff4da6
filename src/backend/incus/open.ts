/** Opening and probing Incus executors (loaded on first use: the REST/websocket client is heavy to import). */
import type { ExecutorBackend, ProbeResult } from "../contract.js";
import { ExecError } from "../../errors.js";
import { IncusClient } from "./client.js";
import { DEFAULT_PROJECT, type IncusEntry } from "./entry.js";
import { IncusBackend } from "./backend.js";
import { fetchServerCertificate, certFingerprint, resolveRemote } from "./remote.js";
import { requestTimeoutMs } from "../request-timeout.js";

/** Exec sessions kept started ahead of need per executor by default (see warm-pool.ts). */
export const WARM_SESSIONS = 2;

export async function openIncus(entry: IncusEntry): Promise<ExecutorBackend> {
  const client = await connect(entry);
  try {
    const { wrap } = await checkInstance(client, entry);
    return new IncusBackend(client, entry.instance, { user: entry.user, group: entry.group, wrap, warm: entry.warm_sessions ?? WARM_SESSIONS });
  } catch (e) {
    client.close();
    throw await explain(e, client);
  }
}

export async function probeIncus(entry: IncusEntry): Promise<ProbeResult> {
  let client: IncusClient | undefined;
  try {
    client = await connect(entry);
    const server = await client.call("GET", "/1.0", "server info");
    const inst = await client.call("GET", `/1.0/instances/${encodeURIComponent(entry.instance)}`, instanceWhat(entry));
    const lines = [
      `Incus ${server.metadata?.environment?.server_version ?? "?"} at ${client.remote.address}`,
      `instance ${entry.instance} (project ${client.project}${member(inst.metadata?.location)}): ${inst.metadata?.status ?? "?"}`,
    ];
    return { ok: inst.metadata?.status === "Running", lines };
  } catch (e) {
    const err = client ? await explain(e, client) : e;
    return { ok: false, lines: [(err as Error).message] };
  } finally {
    client?.close();
  }
}

async function connect(entry: IncusEntry): Promise<IncusClient> {
  const remote = await resolveRemote(entry);
  return new IncusClient(remote, entry.project ?? DEFAULT_PROJECT, requestTimeoutMs(entry));
}

/** ", cluster member M" for an instance of a cluster (a standalone server says "none"). */
function member(location: unknown): string {
  return typeof location === "string" && location !== "" && location !== "none" ? `, cluster member ${location}` : "";
}

function instanceWhat(entry: IncusEntry): string {
  return `instance '${entry.instance}' in project '${entry.project ?? DEFAULT_PROJECT}'`;
}

/**
 * One round of parallel requests: the server trusts us (HTTPS), the instance exists, and
 * whether it has /bin/sh for the start wrapper.
 */
async function checkInstance(client: IncusClient, entry: IncusEntry): Promise<{ wrap: boolean }> {
  const base = `/1.0/instances/${encodeURIComponent(entry.instance)}`;
  const trusted =
    client.remote.kind === "https"
      ? client.call("GET", "/1.0", "server info").then((env) => {
          if (env.metadata?.auth !== "trusted") {
            throw new ExecError(
              "PERMISSION_DENIED",
              `Incus at ${client.remote.address} does not trust the client certificate ${entry.client_cert} (auth: ${env.metadata?.auth}); trust it on the server with 'incus config trust add-certificate ${entry.client_cert}'`,
            );
          }
        })
      : Promise.resolve();
  const instance = client.call("GET", base, instanceWhat(entry));
  const shell = client
    .raw("HEAD", `${base}/files`, { query: { path: "/bin/sh", project: client.project }, signal: AbortSignal.timeout(5000) })
    .then((r) => r.status !== 404, () => true);
  // An untrusted certificate fails every request; say that rather than a 403 on the instance.
  const [t, i, hasShell] = await Promise.allSettled([trusted, instance, shell]);
  if (t.status === "rejected") throw t.reason;
  if (i.status === "rejected") throw i.reason;
  return { wrap: hasShell.status === "fulfilled" ? hasShell.value : true };
}

/** Give a pinning failure the fingerprint the server really has. */
async function explain(e: unknown, client: IncusClient): Promise<unknown> {
  const remote = client.remote;
  if (!(e instanceof ExecError) || e.kind !== "PERMISSION_DENIED" || remote.kind !== "https" || !e.message.startsWith("server certificate pinning failed")) return e;
  try {
    const cert = await fetchServerCertificate(remote.host, remote.port, remote.tls, remote.address, client.timeoutMs);
    return new ExecError(e.kind, `${e.message}; the server presented sha256 ${certFingerprint(cert)}`);
  } catch {
    return e;
  }
}
