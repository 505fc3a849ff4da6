/** `moonexec run script.lua [args...]`: run a script; the exit code is the script's. */
import { LuaScriptError, ScriptStop } from "../lua/host.js";
import type { CliOptions } from "./args.js";
import { openHost } from "./open-host.js";
import { watchRunSigint } from "../lua/resume-signals.js";

export async function runCommand(opts: CliOptions): Promise<number> {
  // The process ends with the script: a SIGINT may give up the VM to stop Lua anywhere.
  const host = await openHost(opts, { ownsProcess: true });
  if (typeof host === "number") return host;

  let interrupts = 0;
  // The customary exit status of a run ended by a signal or a closed pipe: 128 + its number.
  let stopCode: number | undefined;
  const stop = (code: number) => {
    interrupts++;
    stopCode ??= code;
    // Set at once: the process ends with this code however its cleanup goes.
    process.exitCode = stopCode;
    if (interrupts > 1) process.exit(stopCode); // second Ctrl-C: give up waiting for cleanup
    host.interrupt();
  };
  // SIGINT reaches Lua anywhere, even a CPU loop (src/lua/resume-signals.ts). SIGTERM and
  // SIGHUP are not handled: their default action ends the process at once, and the
  // host-death guards clean up what the script started (docs/faults.md).
  const unwatch = watchRunSigint(() => stop(130));
  // `moonexec run s.lua | head -1`: the reader went away. Stop the script and kill what it
  // started, as the shell's SIGPIPE would, and exit 141 without a word (stays installed:
  // later writes fail the same way).
  const onOutputError = (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") {
      if (stopCode === undefined) stop(141);
    } else if (stopCode === undefined) {
      stopCode = 74; // EX_IOERR
      process.stderr.write(`moonexec: cannot write output: ${e.message}\n`);
      host.interrupt();
    }
  };
  process.stdout.on("error", onOutputError);
  process.stderr.on("error", onOutputError);
  // The event loop emptied while the script still waits: nothing can ever wake it.
  const onStuck = () => host.stuck();
  process.on("beforeExit", onStuck);

  let code = 0;
  try {
    await host.runFile(opts.script!, opts.scriptArgs);
  } catch (e) {
    code = stopCode === 141 ? 141 : reportError(e);
  } finally {
    await host.dispose();
    unwatch();
    process.off("beforeExit", onStuck);
  }
  return stopCode ?? code;
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
