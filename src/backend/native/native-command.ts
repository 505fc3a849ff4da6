/** A command running as a local process (execa), in its own process group. */
import type { ResultPromise } from "execa";
import { finished } from "node:stream/promises";
import { constants } from "node:os";
import { statSync } from "node:fs";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, RunningCommand } from "../contract.js";
import { signalNumber } from "../../process/signals.js";
import type { ByteSource } from "../../stream/byte-source.js";
import type { RecyclingReader } from "./recycling-reader.js";
import type { StdoutPair } from "./socket-pairs.js";
import { noteStdout, stdoutPair } from "./stdout-route.js";
import { CommandGroups } from "./groups.js";
import { startPty } from "./pty-command.js";

type Subprocess = ResultPromise<{ buffer: false; reject: false; detached: true }>;
type Execa = (typeof import("execa"))["execa"];

/**
 * Start a command. Synchronous when the spawn succeeded (Node knows at once: a failed exec is
 * reported by libuv before spawn() returns, and then there is no pid), so `proc:start()`
 * answers without a host round trip; a command that could not start rejects. After a command
 * with bulk output, stdout goes through a socket pair read into reused buffers, and the start
 * waits for the pair to be made (see stdout-route.ts).
 */
export function startNative(execa: Execa, spec: CommandSpec, groups: CommandGroups = new CommandGroups()): RunningCommand | Promise<RunningCommand> {
  if (spec.cwd !== undefined && !isDirectory(spec.cwd)) throw new ExecError("NOT_FOUND", `work_dir ${spec.cwd} does not exist`);
  if (spec.pty) return startPty(spec, groups);
  const pair = stdoutPair();
  return pair ? pair.then((p) => spawnWith(execa, spec, p, groups)) : spawnWith(execa, spec, undefined, groups);
}

function spawnWith(execa: Execa, spec: CommandSpec, pair: StdoutPair | undefined, groups: CommandGroups): RunningCommand | Promise<RunningCommand> {
  const [file, ...args] = spec.argv;
  const child = execa(file!, args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: false,
    // A new process group, so signals and timeouts reach children of `sh -c` too.
    detached: true,
    buffer: false,
    reject: false,
    stdin: "pipe",
    stdout: pair ? pair.theirs : "pipe",
    stderr: "pipe",
    stripFinalNewline: false,
    cleanup: false, // the host's own shutdown handling kills groups, not just the leader
  }) as Subprocess;
  pair?.theirs.destroy(); // the child has its own copy (or there is no child)
  if (child.pid !== undefined) return new NativeCommand(child, groups, pair?.reader);
  return new Promise<RunningCommand>((resolve, reject) => {
    let settled = false;
    const failed = (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      pair?.reader.destroy();
      reject(spawnError(e, spec));
    };
    child.once("spawn", () => {
      if (settled) return;
      settled = true;
      resolve(new NativeCommand(child, groups, pair?.reader));
    });
    child.once("error", failed);
    // Some failures (E2BIG, a refused option) come with no 'error' event: only the result says so.
    void child.then((r) => r.failed && failed((r.cause ?? r) as NodeJS.ErrnoException));
  });
}

function spawnError(e: NodeJS.ErrnoException, spec: CommandSpec): ExecError {
  if (e.code === "ENOENT") return new ExecError("NOT_FOUND", `command not found: ${spec.argv[0]}`);
  if (e.code === "EACCES") return new ExecError("PERMISSION_DENIED", `command not executable: ${spec.argv[0]}`);
  if (e.code === "E2BIG") return new ExecError("INVALID", `cmd: arguments and environment too long for the system (E2BIG) starting ${spec.argv[0]}`);
  return new ExecError("INTERNAL", `cannot start ${spec.argv[0]}: ${e.message}`);
}

class NativeCommand implements RunningCommand {
  readonly exited: Promise<ExitInfo>;
  private gone = false;
  private killed = false;

  constructor(
    private readonly child: Subprocess,
    private readonly groups: CommandGroups,
    private readonly reader?: RecyclingReader,
  ) {
    const pgid = child.pid!;
    groups.started(pgid);
    child.once("exit", () => this.killed || groups.leaderExited(pgid)); // the leader was reaped
    // EPIPE when the child stops reading stdin is not the script's problem.
    child.stdin.on("error", () => {});
    const drained = Promise.all([stdoutEnded(child, reader), finished(child.stderr).catch(() => {})]);
    this.exited = Promise.all([child, drained]).then(([result]) => {
      this.gone = true;
      if (result.signal) {
        const n = signalNumber(result.signal);
        return { code: 128 + n, signal: result.signal };
      }
      return { code: result.exitCode ?? 255 };
    });
  }

  get stdout(): ByteSource {
    return this.reader ?? this.child.stdout;
  }
  get stderr() {
    return this.child.stderr;
  }
  get pid() {
    return this.child.pid;
  }

  writeStdin(data: Uint8Array): Promise<void> {
    const stdin = this.child.stdin;
    if (stdin.writableEnded || stdin.destroyed) return Promise.reject(new ExecError("CLOSED", "stdin is closed"));
    return new Promise((resolve, reject) => {
      stdin.write(data, (err) => (err ? reject(new ExecError("CLOSED", `stdin: ${err.message}`)) : resolve()));
    });
  }

  async closeStdin(): Promise<void> {
    if (!this.child.stdin.writableEnded) this.child.stdin.end();
  }

  async signal(signo: number): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signo); // the whole group
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
    }
  }

  async dispose(): Promise<void> {
    // Kill the group even after the leader exited: background children may remain.
    await this.signal(constants.signals.SIGKILL);
    this.killed = true;
    this.groups.killed(this.child.pid!);
    this.child.stdin.destroy();
    if (!this.gone) {
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.reader?.destroy(); // open still only if something outside the group holds the child's stdout
  }
}

/** Resolves when the command's stdout has ended, noting how much it carried (stdout-route.ts). */
function stdoutEnded(child: Subprocess, reader: RecyclingReader | undefined): Promise<void> {
  const ended = reader
    ? new Promise<void>((resolve) => {
        for (const e of ["end", "close", "error"]) reader.once(e, () => resolve());
      })
    : finished(child.stdout).catch(() => {});
  // A pipe is a net.Socket: it counts what it read.
  return ended.then(() => noteStdout(reader?.bytesRead ?? (child.stdout as { bytesRead?: number }).bytesRead ?? 0));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
