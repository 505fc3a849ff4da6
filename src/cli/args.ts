/** Command-line parsing for `moonexec`. Errors name the flag. */
import { statSync } from "node:fs";
import { ENGINE_NAMES, type EngineName } from "../lua/engine/engine.js";
export type Command = "run" | "repl" | "check" | "help" | "version";

export interface CliOptions {
  command: Command;
  script?: string;
  scriptArgs: string[];
  config?: string;
  timeLimit?: number;
  memoryLimit?: number;
  /** The Lua engine (run, repl): --engine, else MOONEXEC_ENGINE, else wasmoon. */
  engine: EngineName;
  modulePaths: string[];
  /** --verbose: one JSON line per exec on stderr (run, repl). */
  verbose: boolean;
  /** --json: machine-readable output (check). */
  json: boolean;
}

export class UsageError extends Error {}

export const USAGE = `usage: moonexec run [options] script.lua [args...]
       moonexec repl [options]
       moonexec check [--config FILE] [--json]

commands:
  run     run a Lua script (it gets \`arg\`; the exit code is the script's)
  repl    interactive Lua with \`exec\` loaded; Ctrl-C cancels a running line, Ctrl-D exits
  check   validate the config and probe every executor (exit 1 on any problem, 2 on a config error)

options (run, repl):
  --config FILE         config file (default: ./moonexec.yaml if present, else local:shell)
  --time-limit SECONDS  stop the script (each REPL line) after this much wall-clock time
  --memory-limit SIZE   Lua heap limit, bytes or with K/M/G suffix (default 512M; wasmoon only)
  --engine NAME         wasmoon (Lua 5.4, default) or fengari (Lua 5.3); env MOONEXEC_ENGINE
  -I DIR                add DIR to the require search path (repeatable)
  -v, --verbose         log every exec as a JSON line on stderr (executor, argv, duration, exit)

options (check):
  --config FILE         config file to check (default as above)
  --json                print the result as one JSON object

  -h, --help            show this help
  --version             print the version`;

/** Flags each command accepts (the value-taking ones are listed in VALUE_FLAGS). */
const FLAGS: Record<"run" | "repl" | "check", string[]> = {
  run: ["--config", "--time-limit", "--memory-limit", "--engine", "-I", "--verbose", "-v"],
  repl: ["--config", "--time-limit", "--memory-limit", "--engine", "-I", "--verbose", "-v"],
  check: ["--config", "--json"],
};

export function parseSize(text: string, flag: string): number {
  const m = /^(\d+)([KMG]?)B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: expected a size like 256M, got "${text}"`);
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * mult;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** An engine name from `where` (the flag or the variable), else a usage error naming it. */
export function parseEngine(value: string, where: string): EngineName {
  if ((ENGINE_NAMES as readonly string[]).includes(value)) return value as EngineName;
  throw new UsageError(`${where}: unknown engine "${value}" (expected: ${ENGINE_NAMES.join(", ")})`);
}

/** The engine the environment picks (MOONEXEC_ENGINE), if any. */
export function envEngine(env: NodeJS.ProcessEnv = process.env): EngineName | undefined {
  const v = env.MOONEXEC_ENGINE;
  return v === undefined || v === "" ? undefined : parseEngine(v, "MOONEXEC_ENGINE");
}

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { command: "help", scriptArgs: [], modulePaths: [], verbose: false, json: false, engine: "wasmoon" };
  let engineFlag: EngineName | undefined;
  const rest = [...argv];
  const sub = rest.shift();
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") return opts;
  if (sub === "--version" || sub === "version") return { ...opts, command: "version" };
  if (sub !== "run" && sub !== "repl" && sub !== "check") {
    // A `#!/usr/bin/env moonexec` script: the kernel passes its path first, then its arguments.
    if (isFile(sub)) return { ...opts, command: "run", script: sub, scriptArgs: rest };
    throw new UsageError(`unknown command "${sub}" (expected: run, repl, check)`);
  }
  opts.command = sub;
  const allowed = FLAGS[sub];
  while (rest.length > 0) {
    const a = rest.shift()!;
    const value = (): string => {
      const v = rest.shift();
      if (v === undefined) throw new UsageError(`${a}: missing value`);
      return v;
    };
    if (a === "-h" || a === "--help") return { ...opts, command: "help" };
    if (a.startsWith("-") && a !== "-") {
      if (!allowed.includes(a)) {
        const known = allowed.filter((f) => f !== "-v").join(", ");
        throw new UsageError(`${sub}: unknown option ${a} (known: ${known})`);
      }
      if (a === "--config") opts.config = value();
      else if (a === "--time-limit") {
        const v = value();
        const n = Number(v);
        if (!(n > 0) || !Number.isFinite(n)) throw new UsageError(`--time-limit: expected a positive number of seconds, got "${v}"`);
        opts.timeLimit = n;
      } else if (a === "--memory-limit") opts.memoryLimit = parseSize(value(), a);
      else if (a === "--engine") engineFlag = parseEngine(value(), a);
      else if (a === "-I") opts.modulePaths.push(value());
      else if (a === "--verbose" || a === "-v") opts.verbose = true;
      else if (a === "--json") opts.json = true;
      continue;
    }
    if (sub !== "run") throw new UsageError(`${sub}: unexpected argument "${a}" (${sub} takes no script)`);
    opts.script = a;
    opts.scriptArgs = rest.splice(0);
  }
  if (sub === "run" && !opts.script) throw new UsageError("run: missing script file");
  if (sub !== "check") {
    opts.engine = engineFlag ?? envEngine() ?? "wasmoon"; // the flag beats the environment
    if (opts.engine === "fengari" && opts.memoryLimit !== undefined) {
      throw new UsageError("--memory-limit: the fengari engine cannot count the Lua heap (see docs/engines.md); use --engine wasmoon for a memory limit");
    }
  }
  return opts;
}
