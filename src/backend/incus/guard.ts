/**
 * The executor's guard: one idle exec per executor whose life is the client's connection.
 *
 * Incus SIGKILLs an exec'd process when its control connection breaks, so when the host
 * dies (SIGKILL, crash) the guard dies with it; a normal release() ends it by closing its
 * stdin. The guard prints `PID:STARTTIME` (its pid and its start time from /proc, so a
 * reused pid is not taken for it) and the wrappers of the executor's commands get that
 * string: their watchers stay after a command exited normally, while it left other processes
 * in its group, and kill the group once the guard is gone (wrapper.ts, WATCHER).
 *
 * Started at the executor's first command (the command waits for it: one exec more per
 * executor), started again when it ended (daemon restarted, connection lost). If it cannot
 * start, commands run without it (background children of finished commands then survive a
 * dead host) until a later try succeeds.
 */
import type { IncusCommand, IncusExecContext } from "./incus-command.js";
import { startIncusCommand } from "./incus-command.js";

/** Prints PID:STARTTIME, then waits for stdin to end. */
const GUARD_SCRIPT = `read -r __mx_l </proc/$$/stat; __mx_l=\${__mx_l##*) }; set -- $__mx_l; printf '%s:%s\\n' "$$" "\${20}"; read -r _; exit 0`;
/** How long release() waits for the guard to end after its stdin closed. */
const CLOSE_WAIT_MS = 2000;
/** A guard that could not start is tried again after this long, not before every command (a silent daemon makes each try cost request_timeout). */
const RETRY_MS = 30_000;

interface Running {
  cmd: IncusCommand;
  id: string;
}

export class ExecutorGuard {
  private current: Promise<Running | undefined> | undefined;
  private failedAt = -Infinity;
  private closed = false;

  constructor(private readonly ctx: IncusExecContext) {}

  /** The guard's `PID:STARTTIME` for the wrappers; "" when there is none. */
  async id(): Promise<string> {
    for (let round = 0; ; round++) {
      if (this.closed || !this.ctx.wrap || Date.now() - this.failedAt < RETRY_MS) return "";
      const cur = this.current;
      const now = cur && (await cur);
      if (now && !now.cmd.isDone) return now.id;
      if (round >= 2) {
        this.failedAt = Date.now(); // a guard that ends as soon as it started: no loop of execs
        return "";
      }
      // Ended (or never started): start it once, however many commands ask at the same time.
      if (this.current === cur) this.current = this.start();
    }
  }

  private async start(): Promise<Running | undefined> {
    const ctx: IncusExecContext = { ...this.ctx, wrap: false };
    let cmd: IncusCommand | undefined;
    try {
      cmd = await startIncusCommand(ctx, { argv: ["/bin/sh", "-c", GUARD_SCRIPT], env: {}, cwd: "/" });
      const id = await firstLine(cmd, this.ctx.client.timeoutMs);
      if (!/^\d+:\d+$/.test(id)) throw new Error(`unexpected guard output '${id}'`);
      cmd.stderr.resume();
      return { cmd, id };
    } catch {
      this.failedAt = Date.now();
      await cmd?.dispose();
      return undefined;
    }
  }

  /** End the guard (after the executor's commands were killed). */
  async close(): Promise<void> {
    this.closed = true;
    const now = this.current && (await this.current);
    if (!now) return;
    await now.cmd.closeStdin();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([now.cmd.exited, new Promise((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    await now.cmd.dispose();
  }
}

/** The first line of the command's stdout (then its stdout is drained). */
function firstLine(cmd: IncusCommand, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => reject(new Error("no answer from the guard")), timeoutMs);
    cmd.stdout.on("data", (c: Buffer) => {
      got += c.toString("latin1");
      const nl = got.indexOf("\n");
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(got.slice(0, nl));
      }
    });
    cmd.stdout.once("end", () => reject(new Error("the guard ended")));
  });
}
