/** Incus operations: waiting for their end, and one-shot execs without websockets. */
import { ExecError } from "../../errors.js";
import type { IncusClient } from "./client.js";

/** What GET /1.0/operations/{id}/wait says about a finished operation. */
export interface OperationResult {
  status: string;
  status_code: number;
  err: string;
  metadata: Record<string, unknown> | null;
}

/**
 * Wait until the operation ends (long-poll, restarted while the server says it still runs).
 * Start it early: finished operations are forgotten by the server after a few seconds.
 * Each round asks the server to answer within request_timeout, and gets as long again for
 * the answer to come: a daemon that went silent is a TIMEOUT, not a hang.
 */
export async function waitOperation(client: IncusClient, id: string, what: string, signal?: AbortSignal): Promise<OperationResult> {
  const path = `/1.0/operations/${encodeURIComponent(id)}`;
  const round = Math.max(1, Math.round(client.timeoutMs / 1000));
  for (;;) {
    let op: OperationResult | null;
    try {
      op = (await client.call<OperationResult>("GET", `${path}/wait`, what, { query: { timeout: String(round) }, signal, silenceMs: round * 1000 + client.timeoutMs })).metadata;
    } catch (e) {
      // A round that ends with the operation still running is an error answer from Incus.
      if (e instanceof ExecError && /context deadline exceeded/.test(e.message)) continue;
      if (!(e instanceof ExecError) || e.kind === "UNAVAILABLE" || e.kind === "PERMISSION_DENIED" || e.kind === "TIMEOUT") throw e;
      // A failed operation (e.g. exit 126/127: "Command not found") makes /wait answer with
      // an error and no metadata; the operation itself still has metadata.return.
      op = (await client.call<OperationResult>("GET", path, what, { signal })).metadata;
    }
    if (op && op.status_code >= 200) return op;
  }
}

/** The id of the operation a 202 answer started. */
export function operationId(env: { operation: string; metadata: { id?: string } | null }): string {
  if (env.metadata?.id) return env.metadata.id;
  const m = /\/operations\/([^/?]+)/.exec(env.operation ?? "");
  if (!m) throw new Error(`no operation in Incus answer: ${JSON.stringify(env).slice(0, 200)}`);
  return decodeURIComponent(m[1]!);
}

/**
 * Run a command in the instance without websockets (no stdin/stdout), as root, and return
 * its exit code. Used for helper commands such as the group kill.
 */
export async function runOneShot(client: IncusClient, instance: string, argv: string[]): Promise<number> {
  const what = `helper exec in instance '${instance}'`;
  const env = await client.call("POST", `/1.0/instances/${encodeURIComponent(instance)}/exec`, what, {
    body: {
      command: argv,
      environment: {},
      "wait-for-websocket": false,
      interactive: false,
      "record-output": false,
      user: 0,
      group: 0,
      cwd: "/",
    },
  });
  const op = await waitOperation(client, operationId(env), what);
  const ret = op.metadata?.return;
  return typeof ret === "number" ? ret : -1;
}
