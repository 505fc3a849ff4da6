/**
 * `moonexec check [--config f] [--json]`: validate the config, then probe every executor
 * (daemon reachable, image present, instance running, TLS trusted — whatever its kind checks).
 * Exit 0 when all is well, 1 on any problem, 2 when the config itself is invalid.
 */
import type { Writable } from "node:stream";
import type { BackendKind } from "../backend/contract.js";
import { builtinKinds } from "../backend/kinds.js";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/entry.js";
import { ConfigError } from "../errors.js";
import type { CliOptions } from "./args.js";
import { CheckTable, summary } from "./check-table.js";
import { probeEntry, type ExecutorCheck } from "./probe.js";
import { fleetLines } from "./check-fleets.js";

export interface CheckOptions {
  /** Config file; undefined = ./moonexec.yaml when present, else the built-in default. */
  configPath?: string;
  json?: boolean;
  kinds?: Map<string, BackendKind>;
  out?: Writable;
  err?: Writable;
  /** Show "probing …" while a probe runs (a person is waiting at a terminal). */
  progress?: boolean;
  probeTimeoutMs?: number;
  cwd?: string;
}

export interface CheckReport {
  config: string;
  ok: boolean;
  error?: string;
  executors: ExecutorCheck[];
}

export async function checkCommand(opts: CliOptions): Promise<number> {
  return runCheck({ configPath: opts.config, json: opts.json, progress: !opts.json && process.stdout.isTTY === true });
}

export async function runCheck(o: CheckOptions = {}): Promise<number> {
  const out = o.out ?? process.stdout;
  const err = o.err ?? process.stderr;
  const kinds = o.kinds ?? builtinKinds();
  const print = (line: string) => out.write(`${line}\n`);

  let config: Config;
  try {
    config = loadConfig(kinds, o.configPath, o.cwd);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (o.json) print(JSON.stringify({ config: o.configPath ?? null, ok: false, error: e.message, executors: [] }));
    err.write(`moonexec check: invalid config: ${e.message}\n`);
    return 2;
  }

  const source = config.files[0] ?? "built-in default";
  const entries = [...config.entries.values()];
  const table = new CheckTable(entries);
  if (!o.json) {
    print(`config: ${source} (${entries.length} executor${entries.length === 1 ? "" : "s"})`);
    for (const line of fleetLines(entries)) print(line);
    print(table.header());
  }
  const checks: ExecutorCheck[] = [];
  for (const entry of entries) {
    if (o.progress) out.write(`  probing ${entry.id} (${entry.kind})…`);
    const c = await probeEntry(kinds.get(entry.kind), entry, o.probeTimeoutMs);
    checks.push(c);
    if (o.progress) out.write("\r\x1b[K");
    if (!o.json) print(table.row(c));
  }
  const ok = checks.every((c) => c.status !== "problem");
  if (o.json) print(JSON.stringify({ config: source, ok, executors: checks } satisfies CheckReport));
  else {
    print("");
    for (const line of summary(checks)) print(line);
  }
  return ok ? 0 : 1;
}
