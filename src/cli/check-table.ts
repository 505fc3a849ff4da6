/** The text output of `moonexec check`: a table of executors, then one line per problem. */
import type { ExecutorCheck } from "./probe.js";

const STATUS_TEXT = { ok: "ok", problem: "FAIL", skipped: "skipped" } as const;
const HEADERS = ["ID", "KIND", "STATUS", "DETAIL"] as const;

/** Column layout fixed up front (ids and kinds are known before any probe), so rows print as probes finish. */
export class CheckTable {
  private readonly idWidth: number;
  private readonly kindWidth: number;
  private readonly statusWidth = Math.max(...Object.values(STATUS_TEXT).map((s) => s.length), HEADERS[2].length);

  constructor(entries: { id: string; kind: string }[]) {
    this.idWidth = Math.max(HEADERS[0].length, ...entries.map((e) => e.id.length));
    this.kindWidth = Math.max(HEADERS[1].length, ...entries.map((e) => e.kind.length));
  }

  header(): string {
    return this.line(HEADERS[0], HEADERS[1], HEADERS[2], HEADERS[3]);
  }

  row(c: ExecutorCheck): string {
    return this.line(c.id, c.kind, STATUS_TEXT[c.status], c.detail.join("; "));
  }

  private line(id: string, kind: string, status: string, detail: string): string {
    return `${id.padEnd(this.idWidth)}  ${kind.padEnd(this.kindWidth)}  ${status.padEnd(this.statusWidth)}  ${detail}`.trimEnd();
  }
}

/** The closing lines: a clear line per problem, or that all is well. */
export function summary(checks: ExecutorCheck[]): string[] {
  const problems = checks.filter((c) => c.status === "problem");
  const n = checks.length;
  const counted = `${n} executor${n === 1 ? "" : "s"}`;
  if (problems.length === 0) return [`${counted} checked, no problems`];
  const lines = [`${problems.length} problem${problems.length === 1 ? "" : "s"} in ${counted}:`];
  for (const p of problems) lines.push(`  ✗ ${p.id} (${p.kind}): ${p.detail.join("; ")}`);
  return lines;
}
