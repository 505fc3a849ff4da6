/**
 * A native command on a pseudo-terminal (@lydell/node-pty: prebuilt binaries, no compiler).
 *
 * The pty library forks the command as the leader of a new session, so its pid is also its
 * process group: signals, timeouts, release and the watchdog act on that group exactly as for
 * a command without a terminal (groups.ts, watchdog.ts). Programs of the session that made
 * groups of their own (an interactive shell's jobs) are found by their session id: on
 * dispose, on release, and by the watchdog when the host dies.
 */
import { EventEmitter } from "node:events";
import { Readable } from "node:stream";
import { constants } from "node:os";
import { accessSync, closeSync, constants as fsConstants, openSync } from "node:fs";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, RunningCommand } from "../contract.js";
import { signalName } from "../../process/signals.js";
import type { ByteSource } from "../../stream/byte-source.js";
import { CommandGroups } from "./groups.js";
import { DEFAULT_PATH, DISPOSE_WAIT_MS, PTY_DRAIN_MS, PTY_EOF } from "../../constants.js";

type PtyModule = typeof import("@lydell/node-pty");
type Pty = import("@lydell/node-pty").IPty;

let ptyModule: Promise<PtyModule> | undefined;

/** Start `spec` (which has `pty`) on a new terminal. */
export async function startPty(spec: CommandSpec, groups: CommandGroups): Promise<RunningCommand> {
  const mod = await (ptyModule ??= loadPty());
  const file = spec.argv[0]!;
  // The pty library reports a failed exec only as output and exit code 1: check first.
  const found = findExecutable(file, spec.env.PATH ?? DEFAULT_PATH);
  if (found === "missing") throw new ExecError("NOT_FOUND", `command not found: ${file}`);
  if (found === "denied") throw new ExecError("PERMISSION_DENIED", `command not executable: ${file}`);
  const env = { ...spec.env };
  if (!Object.keys(env).includes("TERM")) env.TERM = spec.pty!.term;
  let term: Pty;
  try {
    term = mod.spawn(file, spec.argv.slice(1), {
      name: env.TERM,
      cols: spec.pty!.cols,
      rows: spec.pty!.rows,
      cwd: spec.cwd ?? process.cwd(),
      env,
      encoding: null, // bytes: the stream layer decodes (opts.encoding)
    });
  } catch (e) {
    throw new ExecError("INTERNAL", `cannot start ${file} on a terminal: ${(e as Error).message}`);
  }
  return new PtyCommand(term, groups, holdTerminal(term));
}

/**
 * Keep the terminal's other side open in the host until the command has exited and its last
 * output has been read. On Linux a non-blocking read of a pty whose last program just exited
 * can report the hang-up (EIO) before output still in the kernel's buffers: the last lines
 * would be lost. Held open, the terminal hangs up only when the release this returns is called.
 */
function holdTerminal(term: Pty): () => void {
  let fd: number | undefined;
  try {
    fd = openSync((term as unknown as { ptsName: string }).ptsName, fsConstants.O_RDWR | fsConstants.O_NOCTTY);
  } catch {
    return () => {}; // the library's own ending (a hang-up, or its timer) still ends the output
  }
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    closeSync(fd!);
  };
  // The library sets this flag when it learns of the exit, then waits for the hang-up (or
  // closes the terminal itself after a while): let output read on a little, then hang up.
  let exitSeen = false;
  Object.defineProperty(term, "_boundClose", {
    configurable: true,
    get: () => exitSeen,
    set: (v: boolean) => {
      exitSeen = v;
      if (v) setTimeout(release, PTY_DRAIN_MS);
    },
  });
  return release;
}

async function loadPty(): Promise<PtyModule> {
  try {
    const m = (await import("@lydell/node-pty")) as PtyModule & { default?: PtyModule };
    return m.default ?? m;
  } catch (e) {
    ptyModule = undefined;
    throw new ExecError("UNAVAILABLE", `pty = true needs the @lydell/node-pty package, which could not be loaded: ${(e as Error).message}`);
  }
}

/** The terminal's output as a ByteSource: ends when the command has exited and the terminal is drained. */
class PtyOutput extends EventEmitter implements ByteSource {
  constructor(private readonly term: Pty) {
    super();
  }
  pause(): void {
    this.term.pause();
  }
  resume(): void {
    this.term.resume();
  }
}

class PtyCommand implements RunningCommand {
  readonly exited: Promise<ExitInfo>;
  readonly stdout: PtyOutput;
  /** A terminal merges stderr into what it shows: this one is empty and ends at once. */
  readonly stderr: ByteSource = Readable.from([]);
  private gone = false;
  private killed = false;
  private eofSent = false;

  constructor(
    private readonly term: Pty,
    private readonly groups: CommandGroups,
    private readonly releaseTerminal: () => void,
  ) {
    const pgid = term.pid;
    groups.sessionStarted(pgid);
    const out = (this.stdout = new PtyOutput(term));
    // Read errors other than the EIO of a hung-up terminal end the output; the library throws them unless someone listens.
    (term as unknown as EventEmitter).on("error", () => {});
    term.onData((chunk) => out.emit("data", chunk as unknown as Buffer));
    this.exited = new Promise((resolve) => {
      // The library reports the exit once the terminal's output is drained (or 200 ms after, if
      // a program left in the background still holds the terminal).
      term.onExit(({ exitCode, signal }) => {
        this.gone = true;
        releaseTerminal();
        if (!this.killed) groups.sessionLeaderExited(pgid);
        out.emit("end");
        const name = signal ? signalName(signal) : undefined;
        resolve(name ? { code: 128 + signal!, signal: name } : { code: exitCode });
      });
    });
  }

  get pid(): number {
    return this.term.pid;
  }

  async writeStdin(data: Uint8Array): Promise<void> {
    if (this.eofSent) throw new ExecError("CLOSED", "stdin is closed");
    if (this.gone) throw new ExecError("CLOSED", "stdin: the terminal is gone");
    this.term.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength) as unknown as string);
  }

  /** A terminal has no end of input of its own: send its EOF character (EOF only at the start of a line). */
  async closeStdin(): Promise<void> {
    if (this.eofSent) return;
    this.eofSent = true;
    if (!this.gone) this.term.write(PTY_EOF);
  }

  async resize(rows: number, cols: number): Promise<void> {
    if (this.gone) return;
    try {
      this.term.resize(cols, rows);
    } catch (e) {
      if (!this.gone) throw new ExecError("INTERNAL", `resize: ${(e as Error).message}`);
    }
  }

  async signal(signo: number): Promise<void> {
    try {
      process.kill(-this.term.pid, signo); // the whole group
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
      // No group yet: the child has not made its session (setsid) so early after the fork.
      // Its exit is not seen, so the pid is still the child's: signal it alone.
      if (this.gone) return;
      try {
        process.kill(this.term.pid, signo);
      } catch (e2) {
        if ((e2 as NodeJS.ErrnoException).code !== "ESRCH") throw e2;
      }
    }
  }

  async dispose(): Promise<void> {
    const pid = this.term.pid;
    await this.signal(constants.signals.SIGKILL);
    this.killed = true;
    this.groups.killSession(pid);
    if (!this.gone) {
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, DISPOSE_WAIT_MS).unref())]);
      if (!this.gone) (this.term as unknown as { destroy(): void }).destroy(); // stop reading a terminal that did not end
    }
    this.releaseTerminal();
  }
}

/** Whether `file` can be executed, resolved along PATH as execvp does. */
function findExecutable(file: string, path: string): "ok" | "missing" | "denied" {
  const candidates = file.includes("/") ? [file] : path.split(":").map((d) => `${d || "."}/${file}`);
  let denied = false;
  for (const c of candidates) {
    try {
      accessSync(c, fsConstants.X_OK);
      return "ok";
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
  }
  return denied ? "denied" : "missing";
}
