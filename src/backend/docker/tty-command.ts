/**
 * A command on a terminal in the executor's container: its own `docker exec` with Tty
 * (tty-script.ts). The daemon sends the terminal's output as one raw stream (no frame
 * headers): it all goes to stdout, stderr ends empty. The exit code comes from the exec's
 * inspect once the stream ended; signals go through the container's init to the command's
 * process group, as for agent commands.
 */
import { setTimeout as delay } from "node:timers/promises";
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type Dockerode from "dockerode";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, PtySpec, RunningCommand } from "../contract.js";
import { signalName } from "../../process/signals.js";
import { Heartbeat } from "../heartbeat.js";
import type { ExecutorContainer } from "./container.js";
import type { DockerEntry } from "./entry.js";
import { noShell } from "./container.js";
import { daemonMessage } from "./errors.js";
import { OutputPipe } from "./output-pipe.js";
import { ttyArgv } from "./tty-script.js";

const SIGKILL = 9;
/** "\x04": what closing stdin means on a terminal (EOF at a line start, as a keyboard sends it). */
const EOT = Buffer.from([4]);
/** Text before the header kept for the error message when the command cannot start. */
const MAX_EARLY = 4096;
/** Between asks whether the daemon has recorded the exec's end (it may lag the stream's end). */
const INSPECT_POLL_MS = 50;
/** How long dispose() waits for a killed command's stream to end before cutting the connection. */
const DISPOSE_WAIT_MS = 3000;

export async function startDockerTty(container: ExecutorContainer, spec: CommandSpec & { pty: PtySpec }, cwd: string | undefined, entry: DockerEntry): Promise<RunningCommand> {
  const nonce = randomBytes(16).toString("hex");
  const env = "TERM" in spec.env ? spec.env : { ...spec.env, TERM: spec.pty.term };
  const { exec, socket } = await container.startTty(ttyArgv(nonce, spec.argv, env, cwd, spec.pty), spec.pty.rows, spec.pty.cols);
  const cmd = new DockerTtyCommand(container, exec, socket, nonce, spec);
  // For images without stty on daemons that ignore ConsoleSize; the command may be over already.
  void cmd.resize(spec.pty.rows, spec.pty.cols).catch(() => {});
  try {
    await cmd.started;
  } catch (e) {
    await cmd.dispose();
    const err = e instanceof ExecError ? e : new ExecError("INTERNAL", String(e));
    if (/executable file not found|no such file or directory/i.test(err.message) && /exec failed|OCI runtime/i.test(err.message)) throw noShell(entry, err.message);
    throw err;
  }
  return cmd;
}

interface Start {
  pid: number;
  group: boolean;
}

class DockerTtyCommand implements RunningCommand {
  readonly stdout = new OutputPipe();
  readonly stderr = new OutputPipe();
  readonly exited: Promise<ExitInfo>;
  readonly started: Promise<Start>;
  private start: Start | undefined;
  private head: Buffer | undefined = Buffer.alloc(0); // undefined once the header was seen
  private streamEnd: "end" | Error | undefined;
  private readonly streamDone: Promise<"end" | Error>;
  private readonly sent = new Set<number>();
  /** The last resize asked for: the next one waits for it (resize()). */
  private resizing: Promise<void> = Promise.resolve();
  private done = false;
  private disposing: Promise<void> | undefined;
  private readonly heartbeat: Heartbeat;
  private readonly what: string;
  private readonly startedAt = Date.now();

  constructor(
    private readonly container: ExecutorContainer,
    private readonly exec: Dockerode.Exec,
    private readonly socket: Duplex,
    private readonly nonce: string,
    spec: CommandSpec,
  ) {
    this.what = `docker: ${spec.argv[0]}`;
    let settleStart!: { resolve: (s: Start) => void; reject: (e: Error) => void };
    this.started = new Promise<Start>((resolve, reject) => (settleStart = { resolve, reject }));
    this.started.catch(() => {});
    let streamDone!: (how: "end" | Error) => void;
    this.streamDone = new Promise((r) => (streamDone = r));
    const finish = (how: "end" | Error) => {
      if (this.streamEnd !== undefined) return;
      this.streamEnd = how;
      this.heartbeat.stop();
      if (this.head !== undefined) {
        const early = this.head.toString("utf8").trim();
        settleStart.reject(how === "end" ? new ExecError("INTERNAL", early || `${this.what}: the terminal closed before the command started`) : how);
      }
      streamDone(how);
    };
    this.heartbeat = new Heartbeat(
      container.timeoutMs,
      () => container.ping(),
      (e) => {
        finish(e instanceof Error ? e : new Error(String(e)));
        socket.destroy();
      },
    );
    socket.on("data", (piece: Buffer) => {
      this.heartbeat.touch();
      if (this.head !== undefined) {
        const rest = this.onHead(piece, settleStart);
        if (rest === undefined || rest.length === 0) return;
        piece = rest;
      }
      const wait = this.stdout.write(piece);
      if (wait) {
        socket.pause();
        void wait.then(() => socket.resume());
      }
    });
    let ended = false;
    socket.on("end", () => {
      ended = true;
      finish("end");
    });
    socket.on("error", (e) => finish(e));
    socket.on("close", () => {
      if (!ended) finish(new Error("connection closed"));
    });

    this.exited = this.streamDone.then(async (how) => {
      const info = how === "end" ? await this.exitInfo() : await this.lost(how);
      if (info.error) {
        this.stdout.fail(info.error);
        this.stderr.fail(info.error);
      } else {
        this.stdout.end();
        this.stderr.end();
      }
      this.done = true;
      return info;
    });
  }

  /** Bytes before and including the header line; returns what follows it once it came. */
  private onHead(piece: Buffer, settle: { resolve: (s: Start) => void; reject: (e: Error) => void }): Buffer | undefined {
    const all = Buffer.concat([this.head!, piece]);
    const tag = Buffer.from(`MX${this.nonce}:`);
    const at = all.indexOf(tag);
    const nl = at < 0 ? -1 : all.indexOf(0x0a, at);
    if (nl < 0) {
      this.head = all.length > MAX_EARLY ? all.subarray(all.length - MAX_EARLY) : all;
      return undefined;
    }
    const line = all.subarray(at + tag.length, nl).toString("latin1").replace(/\r$/, "");
    const early = all.subarray(0, at).toString("utf8").trim();
    this.head = undefined;
    const go = /^go:(\d+):([gp])$/.exec(line);
    if (go) {
      this.start = { pid: Number(go[1]), group: go[2] === "g" };
      settle.resolve(this.start);
    } else if (line === "nocmd") settle.reject(new ExecError("NOT_FOUND", `command not found: ${this.what.slice("docker: ".length)}`));
    else if (line === "nodir") settle.reject(new ExecError("NOT_FOUND", "work_dir does not exist in the container"));
    else settle.reject(new ExecError("INTERNAL", early || `${this.what}: unexpected header ${JSON.stringify(line.slice(0, 200))}`));
    return all.subarray(nl + 1);
  }

  get pid(): number | undefined {
    return this.start?.pid;
  }

  /** The exec's exit code, once the daemon has recorded it (it can lag the stream's end). */
  private async exitInfo(): Promise<ExitInfo> {
    const short = this.exec.id.slice(0, 12);
    const until = Date.now() + this.container.timeoutMs;
    for (;;) {
      let st: Dockerode.ExecInspectInfo;
      try {
        st = await this.container.deadline(`GET /exec/${short}/json`, (abortSignal) => (this.exec.inspect as (o: object) => Promise<Dockerode.ExecInspectInfo>).call(this.exec, { abortSignal }));
      } catch (e) {
        return this.lost(e instanceof Error ? e : new Error(daemonMessage(e)));
      }
      if (!st.Running && typeof st.ExitCode === "number") {
        const code = st.ExitCode;
        if (code > 128 && code < 128 + 65 && this.sent.has(code - 128)) return { code, signal: signalName(code - 128) };
        // A SIGKILL nobody here sent: the kernel's OOM killer, or the container going away (its end kills every process).
        if (code === 128 + SIGKILL) {
          if (await this.container.oomSince(this.startedAt)) return { code, signal: "SIGKILL", note: "out of memory: the container's memory limit was reached and the kernel OOM killer ended the command" };
          if (await this.container.checkGone()) return this.lost(new Error("the container went away"));
        }
        return { code };
      }
      if (Date.now() > until) return this.lost(new ExecError("TIMEOUT", `the daemon did not report the end of exec ${short}`));
      await delay(INSPECT_POLL_MS, undefined, { ref: false });
    }
  }

  /** The stream broke before its end: released by us, the container gone, or the daemon lost. */
  private async lost(e: Error): Promise<ExitInfo> {
    let error: ExecError;
    if (this.disposing) return { code: 128 + SIGKILL, signal: "SIGKILL" };
    if (e instanceof ExecError && e.kind === "TIMEOUT") error = new ExecError("TIMEOUT", `${this.what}: ${e.message}; the command's output is incomplete`);
    else if (this.container.isGone || (await this.container.whyLost()) === "gone") error = new ExecError("GONE", `${this.what}: the executor's container was stopped, killed or removed while the command ran; its output may be incomplete`);
    else error = new ExecError("UNAVAILABLE", `${this.what}: the connection to the docker daemon was lost before the command ended (${e.message}); its output is incomplete`);
    return { code: -1, error, note: error.message };
  }

  writeStdin(data: Uint8Array): Promise<void> {
    if (this.streamEnd !== undefined || this.socket.destroyed) return Promise.reject(new ExecError("CLOSED", "process has exited"));
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(new ExecError("CLOSED", `stdin: ${err.message}`)) : resolve()));
    });
  }

  async closeStdin(): Promise<void> {
    // A terminal cannot be half-closed: EOF is the keyboard's ^D.
    await this.writeStdin(EOT).catch(() => {});
  }

  resize(rows: number, cols: number): Promise<void> {
    // One at a time, in order: each is its own HTTP request, and the start's own resize must
    // never land after a script's (the terminal would end at the first size).
    const next = this.resizing.then(async () => {
      if (this.streamEnd !== undefined) return;
      const short = this.exec.id.slice(0, 12);
      await this.container.deadline(`POST /exec/${short}/resize`, (abortSignal) => this.exec.resize({ h: rows, w: cols, abortSignal }));
    });
    this.resizing = next.catch(() => {});
    return next;
  }

  async signal(signo: number): Promise<void> {
    const s = this.start;
    if (!s || this.streamEnd !== undefined) return;
    this.sent.add(signo);
    await this.container.signal(signo, s.group ? -s.pid : s.pid);
  }

  dispose(): Promise<void> {
    this.disposing ??= this.teardown();
    return this.disposing;
  }

  private async teardown(): Promise<void> {
    const s = this.start;
    if (s && s.pid > 1) {
      // Also after the exit: what the command left running in its group goes too.
      this.sent.add(SIGKILL);
      await this.container.signal(SIGKILL, s.group ? -s.pid : s.pid).catch(() => {});
    }
    if (this.streamEnd === undefined) await Promise.race([this.streamDone, delay(DISPOSE_WAIT_MS, undefined, { ref: false })]);
    this.heartbeat.stop();
    this.socket.destroy();
    if (!this.done) await Promise.race([this.exited, delay(DISPOSE_WAIT_MS, undefined, { ref: false })]);
  }
}
