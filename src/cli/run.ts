/** `moonexec run script.lua [args...]`: run a script; the exit code is the script's. */
import { LuaScriptError, ScriptStop } from "../lua/host.js";
import type { CliOptions } from "./args.js";
import { openHost } from "./open-host.js";

export async function runCommand(opts: CliOptions): Promise<number> {
  // The process ends with the script: a SIGINT may give up the VM to stop Lua anywhere.
  const host = await openHost(opts, { ownsProcess: true });
  if (typeof host === "number") return host;

  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130); // second Ctrl-C: give up waiting for cleanup
    host.interrupt();
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  // The event loop emptied while the script still waits: nothing can ever wake it.
  const onStuck = () => host.stuck();
  process.on("beforeExit", onStuck);

  let code = 0;
  try {
    await host.runFile(opts.script!, opts.scriptArgs);
  } catch (e) {
    code = reportError(e);
  } finally {
    await host.dispose();
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    process.off("beforeExit", onStuck);
  }
  return code;
}

/** Print a failed run to stderr; returns the exit code it stands for. */
export function reportError(e: unknown): number {
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
