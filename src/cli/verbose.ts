/** --verbose: every exec as one JSON line on stderr, for audit. */
import type { Writable } from "node:stream";
import type { AuditEvent } from "../registry/executor.js";

/** The fields of every line, in this order; absent values are written as null. */
export const AUDIT_FIELDS = ["executor", "kind", "argv", "cwd", "pid", "started_at", "duration_ms", "exit_code", "signal", "timed_out", "error"] as const;

export function auditLine(e: AuditEvent): string {
  const record: Record<string, unknown> = {};
  for (const f of AUDIT_FIELDS) record[f] = e[f] ?? null;
  record.timed_out = e.timed_out === true;
  return JSON.stringify(record);
}

/** An audit callback for HostOptions.audit that writes JSON lines to `out` (default stderr). */
export function auditWriter(out: Writable = process.stderr): (e: AuditEvent) => void {
  return (e) => {
    out.write(`${auditLine(e)}\n`);
  };
}
