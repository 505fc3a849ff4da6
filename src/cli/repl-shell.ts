/**
 * The REPL's `:shell ID`: the user's terminal attached to an interactive shell on a terminal
 * of executor ID. Keys go to the shell as they are typed (raw mode: Ctrl-C interrupts the
 * shell's program, not the REPL); the window size follows the user's (SIGWINCH); Ctrl-]
 * detaches — the shell is killed — and the shell's own exit also returns to the prompt.
 */
import type { Host } from "../lua/host.js";
import { ExecError } from "../errors.js";
import { PTY_DEFAULTS } from "../process/exec-options.js";
import type { Proc } from "../process/proc.js";
import { SHELL_DETACH_KEY } from "../constants.js";

export interface ShellTerminal {
  input: NodeJS.ReadStream;
  out: NodeJS.WriteStream;
  /** Detach from outside (the REPL got SIGTERM). */
  stop?: AbortSignal;
}

/** Run the shell until it exits or the user detaches; resolves with the line to show after it. */
export async function attachShell(host: Host, id: string, term: ShellTerminal): Promise<string> {
  const { input, out } = term;
  if (!input.isTTY || !out.isTTY) throw new ExecError("INVALID", ":shell needs a terminal (stdin and stdout are not one)");
  const executor = await host.registry.get(id);
  try {
    const native = executor.entry.kind === "exec.native";
    const shell = native ? process.env.SHELL || "/bin/sh" : "sh";
    const type = process.env.TERM && /^[A-Za-z0-9._+-]{1,64}$/.test(process.env.TERM) ? process.env.TERM : PTY_DEFAULTS.term;
    const proc = executor.exec([shell, "-i"], { pty: { rows: out.rows || PTY_DEFAULTS.rows, cols: out.columns || PTY_DEFAULTS.cols, term: type } });
    await proc.start();
    return await relay(proc, input, out, term.stop);
  } finally {
    await executor.release();
  }
}

/** Copy keys in and output out until the shell ends or the detach key comes. */
async function relay(proc: Proc, input: NodeJS.ReadStream, out: NodeJS.WriteStream, stop?: AbortSignal): Promise<string> {
  let detached = false;
  let detach: () => void = () => {};
  const detachedP = new Promise<void>((resolve) => (detach = resolve));
  const onStop = () => {
    detached = true;
    detach();
  };
  if (stop?.aborted) onStop();
  stop?.addEventListener("abort", onStop);
  const onKeys = (keys: Buffer) => {
    const at = keys.indexOf(SHELL_DETACH_KEY);
    const before = at >= 0 ? keys.subarray(0, at) : keys;
    if (before.length > 0) void proc.writeStdin(before).catch(() => {});
    if (at >= 0) {
      detached = true;
      detach();
    }
  };
  const onResize = () => void proc.resize(out.rows, out.columns).catch(() => {});
  const wasRaw = input.isRaw;
  input.setRawMode(true);
  input.on("data", onKeys);
  input.resume();
  out.on("resize", onResize);
  const copied = copyOutput(proc, out);
  try {
    await Promise.race([copied, detachedP]);
  } finally {
    stop?.removeEventListener("abort", onStop);
    input.off("data", onKeys);
    out.off("resize", onResize);
    input.setRawMode(wasRaw);
    input.pause();
  }
  if (detached) {
    await proc.dispose();
    return "\r\n[detached: the shell was killed]";
  }
  const exit = await proc.wait().catch((e: Error) => e);
  if (exit instanceof Error) return `[shell lost: ${exit.message}]`;
  return `[shell exited with ${exit.signal ?? exit.code}]`;
}

/** The shell's terminal output to the user's, until it ends. */
async function copyOutput(proc: Proc, out: NodeJS.WriteStream): Promise<void> {
  const s = proc.stdout;
  for (;;) {
    let got;
    try {
      got = s.tryRead(1 << 20);
    } catch {
      return; // cut short: wait() tells how
    }
    if (got === null) return;
    if (got === undefined) {
      await proc.waitedOn(s.changed());
      continue;
    }
    const data = got.join();
    if (!out.write(Buffer.from(data))) await new Promise((r) => out.once("drain", r));
  }
}
