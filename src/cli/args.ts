/** Command-line parsing for `moonexec`. Errors name the flag. */
export interface CliOptions {
  command: "run" | "help" | "version";
  script?: string;
  scriptArgs: string[];
  config?: string;
  timeLimit?: number;
  memoryLimit?: number;
  modulePaths: string[];
}

export class UsageError extends Error {}

export const USAGE = `usage: moonexec run [options] script.lua [args...]

options:
  --config FILE         config file (default: ./moonexec.yaml if present, else local:shell)
  --time-limit SECONDS  stop the script after this much wall-clock time
  --memory-limit SIZE   Lua heap limit, bytes or with K/M/G suffix (default 512M)
  -I DIR                add DIR to the require search path (repeatable)
  -h, --help            show this help
  --version             print the version`;

export function parseSize(text: string, flag: string): number {
  const m = /^(\d+)([KMG]?)B?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${flag}: expected a size like 256M, got "${text}"`);
  const mult = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as "" | "K" | "M" | "G"];
  return Number(m[1]) * mult;
}

export function parseArgs(argv: string[]): CliOptions {
  const opts: CliOptions = { command: "help", scriptArgs: [], modulePaths: [] };
  const rest = [...argv];
  const sub = rest.shift();
  if (sub === undefined || sub === "-h" || sub === "--help" || sub === "help") return opts;
  if (sub === "--version" || sub === "version") return { ...opts, command: "version" };
  if (sub !== "run") throw new UsageError(`unknown command "${sub}" (expected: run)`);
  opts.command = "run";
  while (rest.length > 0) {
    const a = rest.shift()!;
    const value = (): string => {
      const v = rest.shift();
      if (v === undefined) throw new UsageError(`${a}: missing value`);
      return v;
    };
    if (a === "--config") opts.config = value();
    else if (a === "--time-limit") {
      const v = value();
      const n = Number(v);
      if (!(n > 0)) throw new UsageError(`--time-limit: expected a positive number of seconds, got "${v}"`);
      opts.timeLimit = n;
    } else if (a === "--memory-limit") opts.memoryLimit = parseSize(value(), a);
    else if (a === "-I") opts.modulePaths.push(value());
    else if (a === "-h" || a === "--help") return { ...opts, command: "help" };
    else if (a.startsWith("-") && a !== "-") throw new UsageError(`unknown option ${a}`);
    else {
      opts.script = a;
      opts.scriptArgs = rest.splice(0);
    }
  }
  if (!opts.script) throw new UsageError("run: missing script file");
  return opts;
}
