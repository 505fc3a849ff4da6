/** The `moonexec` command. */
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.js";
import { Host, LuaScriptError, ScriptStop } from "../lua/host.js";
import { parseArgs, UsageError, USAGE } from "./args.js";

async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`moonexec: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    throw e;
  }
  if (opts.command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (opts.command === "version") {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    process.stdout.write(`moonexec ${pkg.version}\n`);
    return 0;
  }

  let host: Host;
  try {
    host = await Host.create({
      config: opts.config,
      timeLimit: opts.timeLimit,
      memoryLimit: opts.memoryLimit,
      modulePaths: opts.modulePaths,
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`moonexec: ${e.message}\n`);
      return 2;
    }
    throw e;
  }

  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // second Ctrl-C: give up waiting for cleanup
    host.interrupt();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  let code = 0;
  try {
    await host.runFile(opts.script!, opts.scriptArgs);
  } catch (e) {
    code = report(e);
  } finally {
    await host.dispose();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
  return code;
}

function report(e: unknown): number {
  if (e instanceof ScriptStop) {
    if (e.kind !== "exit") process.stderr.write(`moonexec: ${e.message}\n`);
    return e.exitCode;
  }
  if (e instanceof LuaScriptError) {
    process.stderr.write(`moonexec: ${e.message}\n${e.traceback ? e.traceback + "\n" : ""}`);
    return 1;
  }
  process.stderr.write(`moonexec: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 1;
}

const code = await main(process.argv.slice(2));
// Flush stdout before exiting: large script output may still be queued.
process.stdout.write("", () => process.exit(code));
