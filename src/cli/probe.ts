/** Probe one configured executor through its kind's probe(), with a time bound. */
import type { BackendKind } from "../backend/contract.js";
import type { Entry } from "../config/entry.js";

export type ProbeStatus = "ok" | "problem" | "skipped";

export interface ExecutorCheck {
  id: string;
  kind: string;
  status: ProbeStatus;
  /** The probe's findings, one per line ("daemon reachable", "image x missing"). */
  detail: string[];
  duration_ms: number;
  /** The fleet this executor is a member of (docs/fleet.md). */
  fleet?: string;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 30_000;

export async function probeEntry(kind: BackendKind | undefined, entry: Entry, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ExecutorCheck> {
  const started = Date.now();
  const done = (status: ProbeStatus, detail: string[]): ExecutorCheck => ({
    id: entry.id,
    kind: entry.kind,
    ...(entry.fleet ? { fleet: entry.fleet } : {}),
    status,
    detail,
    duration_ms: Date.now() - started,
  });
  if (!kind) return done("problem", [`unknown kind '${entry.kind}'`]);
  if (!kind.probe) return done("skipped", [`kind ${entry.kind} has no probe`]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  try {
    const r = await Promise.race([kind.probe(entry), timeout]);
    if (r === "timeout") return done("problem", [`probe did not answer within ${timeoutMs / 1000}s`]);
    const lines = r.lines.length > 0 ? r.lines : [r.ok ? "ok" : "probe failed (no detail)"];
    return done(r.ok ? "ok" : "problem", lines);
  } catch (e) {
    return done("problem", [`probe failed: ${e instanceof Error ? e.message : String(e)}`]);
  } finally {
    clearTimeout(timer);
  }
}
