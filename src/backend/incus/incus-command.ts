/**
 * A command running in an Incus instance: one exec operation (wait-for-websocket) with
 * websockets for stdin, stdout, stderr and control. A terminal command (CommandSpec.pty) is
 * an interactive exec instead: one data websocket carries the terminal both ways (its output
 * is stdout, stderr stays empty; the wrapper's marker and records come on it too), and the
 * control socket also resizes the terminal (window-resize).
 *
 * Start: POST exec, then at once and in parallel connect the four websockets (the server
 * runs the command when 0, 1 and 2 are connected and gives up after a few seconds) and
 * long-poll the operation's /wait (finished operations vanish after a few seconds).
 * spawn() resolves when the sockets are open and the wrapper reported the pid.
 *
 * Exit: the operation's metadata.return, reported only after both output streams ended
 * (their empty text frame), so no output arrives after wait() returns. Incus reports a
 * signal death as 128+N; it counts as a signal when N is a signal this command was sent.
 *
 * Signals: to the process group via a helper exec (`kill -N -PGID`, see wrapper.ts) when
 * the wrapper made one; else (or when the helper fails) via the control socket, which
 * reaches the exec'd process only. SIGKILL goes both ways at once.
 */
import { finished } from "node:stream/promises";
import WebSocket from "ws";
import { RingReads } from "./ring-reads.js";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, PtySpec, RunningCommand } from "../contract.js";
import { signalName } from "../../process/signals.js";
import type { IncusClient } from "./client.js";
import { apiError, transportError } from "./errors.js";
import type { GroupKiller } from "./group-killer.js";
import { operationId, runOneShot, waitOperation, type OperationResult } from "./operation.js";
import { ACK_SIGNALS, MarkerParser, newToken, TokenFilter, warmArgv, wrapArgv, type Marker, type TokenRecord } from "./wrapper.js";
import { WsOutput, type EndHow } from "./ws-output.js";
import { Heartbeat } from "../heartbeat.js";
import { noAnswer } from "../request-timeout.js";

export interface IncusExecContext {
  client: IncusClient;
  instance: string;
  project: string;
  user?: number;
  group?: number;
  /** Start commands under the wrapper (false when the instance has no /bin/sh). */
  wrap: boolean;
  killer: GroupKiller;
}

const FDS = ["0", "1", "2", "control"] as const;
/** An interactive exec's websockets: "0" carries the terminal both ways. */
const PTY_FDS = ["0", "control"] as const;
type Fd = (typeof FDS)[number];
/** "\x04": the keyboard's EOF, what closing stdin means on a terminal. */
const EOT = Buffer.from([4]);
const STDIN_FRAME = 1024 * 1024;
const DISPOSE_WAIT_MS = 5000;
/** Signals the wrapper's stage 2 lives through (caught, ignored, stop/continue); any other one sent may kill it. */
const WRAPPER_SURVIVES = new Set([1, 2, 3, 10, 12, 14, 15, 17, 18, 19, 20, 21, 22, 23, 28]);

/** The POST body of an exec (wait-for-websocket; interactive on a terminal). */
function execBody(ctx: IncusExecContext, command: string[], env: Record<string, string>, cwd: string | undefined, pty?: PtySpec): Record<string, unknown> {
  const body: Record<string, unknown> = { command, environment: env, "wait-for-websocket": true, interactive: pty !== undefined };
  if (pty) {
    body.width = pty.cols;
    body.height = pty.rows;
  }
  if (cwd !== undefined) body.cwd = cwd;
  if (ctx.user !== undefined) body.user = ctx.user;
  if (ctx.group !== undefined) body.group = ctx.group;
  return body;
}

async function postExec(ctx: IncusExecContext, body: Record<string, unknown>, what: string): Promise<IncusCommand> {
  const env = await ctx.client.call("POST", `/1.0/instances/${encodeURIComponent(ctx.instance)}/exec`, what, { body });
  const fds = (env.metadata?.metadata?.fds ?? {}) as Partial<Record<Fd, string>>;
  return new IncusCommand(ctx, operationId(env), fds, what, body.interactive === true);
}

function describe(ctx: IncusExecContext, argv0: string | undefined): string {
  return `exec of '${argv0 ?? "a warm session"}' in instance '${ctx.instance}' (project '${ctx.project}')`;
}

/** A command in a new exec operation of its own (`guard`: the executor's guard id, see guard.ts). */
export async function startIncusCommand(ctx: IncusExecContext, spec: CommandSpec, guard = ""): Promise<IncusCommand> {
  const what = describe(ctx, spec.argv[0]);
  const token = ctx.wrap ? newToken() : undefined;
  // Incus sets TERM for an interactive exec only from the instance's config: set it here.
  const env = spec.pty && !("TERM" in spec.env) ? { ...spec.env, TERM: spec.pty.term } : spec.env;
  const command = token !== undefined ? wrapArgv(spec.argv, spec.cwd, env, token, guard) : spec.argv;
  const cmd = await postExec(ctx, execBody(ctx, command, env, spec.cwd, spec.pty), what);
  cmd.bind(spec, token);
  await cmd.started();
  return cmd;
}

/**
 * A warm session: an exec operation whose shell waits for its command on stdin (see
 * wrapper.ts). Resolves once its websockets are open; give it a command with run().
 */
export async function startWarmSession(ctx: IncusExecContext): Promise<IncusCommand> {
  const cmd = await postExec(ctx, execBody(ctx, warmArgv(), {}, undefined), describe(ctx, undefined));
  try {
    await cmd.connected;
  } catch (e) {
    await cmd.dispose();
    throw e;
  }
  return cmd;
}

type OpOutcome = { op: OperationResult } | { error: unknown };

export class IncusCommand implements RunningCommand {
  readonly stdout: WsOutput;
  readonly stderr: WsOutput;
  readonly exited: Promise<ExitInfo>;
  /** All four websockets are open: the command (or warm shell) runs. */
  readonly connected: Promise<void>;
  private readonly markerSeen: Promise<void>;
  private readonly outcome: Promise<OpOutcome>;
  private readonly sockets: Record<Fd, WebSocket>;
  private readonly waitAbort = new AbortController();
  private marker: Marker | undefined;
  private childPid: number | undefined;
  private readonly childSeen: Promise<void>;
  private settleChild!: () => void;
  private readonly outputEnded = { out: false, err: false };
  private acked = false;
  private spec: CommandSpec | undefined;
  private ready: Promise<void> | undefined;
  private readonly sent = new Set<number>();
  private stdinClosed = false;
  private done = false;
  private disposing: Promise<void> | undefined;
  private token: string | undefined;
  /** Why the command's end was not seen (decided once, for both streams and wait()). */
  private verdict: Promise<ExecError> | undefined;
  private readonly heartbeat: Heartbeat;

  constructor(
    private readonly ctx: IncusExecContext,
    readonly operation: string,
    fds: Partial<Record<Fd, string>>,
    private what: string,
    /** An interactive exec: a terminal on the one data socket "0". */
    private readonly pty = false,
  ) {
    const client = ctx.client;
    // 1. The operation wait, started before anything can finish.
    this.outcome = waitOperation(client, operation, what, this.waitAbort.signal).then(
      (op) => ({ op }),
      (error) => ({ error }),
    );
    // 2. All websockets at once.
    const sockets = {} as Record<Fd, WebSocket>;
    const rings: Partial<Record<Fd, RingReads>> = {};
    const opened: Promise<void>[] = [];
    for (const fd of pty ? PTY_FDS : FDS) {
      const secret = fds[fd];
      if (secret === undefined) throw new ExecError("INTERNAL", `${what}: Incus gave no websocket for fd ${fd}`);
      // Output sockets read into reused buffers (ring-reads.ts); WsOutput tells them what is consumed.
      const ring = fd === "1" || fd === "2" || (pty && fd === "0") ? new RingReads() : undefined;
      if (ring) rings[fd] = ring;
      const ws = client.websocket(operation, secret, ring);
      sockets[fd] = ws;
      const open = this.whenOpen(ws, fd);
      // The command starts once 0, 1 and 2 are connected. Control is optional for the
      // server: a quick command can end before it connects ("Only running operations can
      // be connected"), which is no failure.
      if (fd === "control") open.catch(() => {});
      else opened.push(open);
    }
    this.sockets = sockets;
    this.connected = Promise.all(opened).then(() => {});
    this.connected.catch(() => {});
    let settleMarker!: () => void;
    this.markerSeen = new Promise<void>((resolve) => (settleMarker = resolve));
    this.childSeen = new Promise<void>((resolve) => (this.settleChild = resolve));
    this.stdout = pty ? new WsOutput(sockets["0"], rings["0"]) : new WsOutput(sockets["1"], rings["1"]);
    this.stderr = pty ? new WsOutput(undefined) : new WsOutput(sockets["2"], rings["2"]);
    if (pty) {
      this.stderr.endAfter(this.stdout);
      // The server's end frame on the terminal: it also waits for ours (EOF of the keyboard side) before the operation ends.
      sockets["0"].on("message", (_d: Buffer, isBinary: boolean) => {
        if (!isBinary && sockets["0"].readyState === WebSocket.OPEN) sockets["0"].send("", { binary: false });
      });
    }
    // A daemon that goes silent under the command: ask it something; no answer ends the command.
    this.heartbeat = new Heartbeat(
      client.timeoutMs,
      () => (this.spec ? client.call("GET", "/1.0", "heartbeat") : Promise.resolve()), // an idle warm session is silent
      (e) => this.lose(e instanceof ExecError && e.kind === "TIMEOUT" ? e : noAnswer(`incus at ${client.remote.address}`, "GET /1.0", client.timeoutMs)),
    );
    for (const out of [this.stdout, this.stderr]) out.onActivity = () => this.heartbeat.touch();
    this.stdout.judge = (how) => this.judge("out", how);
    if (!pty) this.stderr.judge = (how) => this.judge("err", how);
    if (ctx.wrap) {
      (pty ? this.stdout : this.stderr).addFilter(
        new MarkerParser((m) => {
          this.marker = m;
          settleMarker();
        }),
      );
    } else {
      settleMarker();
      this.settleChild();
    }

    this.exited = this.outcome.then(async (o) => {
      if ("error" in o && !this.ours && this.spec) {
        // The operation is lost (daemon gone, connection dropped): the streams end with it.
        const lost = await this.verdictOf(o.error);
        this.stdout.fail(lost);
        this.stderr.fail(lost);
      }
      await Promise.all([finished(this.stdout).catch(() => {}), finished(this.stderr).catch(() => {})]);
      this.done = true;
      this.heartbeat.stop();
      this.closeSockets();
      return this.exitInfo(o);
    });
  }

  /** The command this session runs, and the token of its wrapper's records. */
  bind(spec: CommandSpec, token: string | undefined): void {
    this.spec = spec;
    this.token = token;
    this.what = describe(this.ctx, spec.argv[0]);
    if (token === undefined) return;
    this.stdout.addFilter(new TokenFilter(token, (r) => this.onRecord("out", r)));
    if (!this.pty) this.stderr.addFilter(new TokenFilter(token, (r) => this.onRecord("err", r)));
  }

  private onRecord(stream: "out" | "err", r: TokenRecord): void {
    if (r.kind === "pid") {
      this.childPid = r.pid;
      this.settleChild();
      return;
    }
    this.outputEnded[stream] = true;
    // A terminal carries both end records; the first one follows all output.
    if (this.pty) this.outputEnded.err = true;
    if (this.outputEnded.out && this.outputEnded.err) void this.ack();
  }

  /**
   * Both streams carried the wrapper's end record: all output is here, the wrapper may exit
   * (it waits for this so that Incus cannot cut output still in its pipes; see wrapper.ts).
   */
  private async ack(): Promise<void> {
    if (this.acked) return;
    this.acked = true;
    const control = this.sockets.control;
    if (control.readyState === WebSocket.CONNECTING) {
      await new Promise((resolve) => {
        control.once("open", resolve);
        control.once("close", resolve);
      });
    }
    if (ACK_SIGNALS.every((sig) => this.sendControl(sig))) {
      // The wrapper stops itself after checking for the ack; an ack landing between the
      // check and the stop would leave it stopped. Continue it until it has exited.
      const [, cont] = ACK_SIGNALS;
      const timer = setInterval(() => (this.done ? clearInterval(timer) : this.sendControl(cont)), 200);
      timer.unref();
      void this.exited.then(() => clearInterval(timer));
      return;
    }
    const pid = this.marker?.kind === "pid" ? this.marker.pid : undefined;
    if (pid === undefined) return;
    const [usr1, cont] = ACK_SIGNALS;
    const script = `kill -${usr1} ${pid}; kill -${cont} ${pid}; sleep 0.2; kill -${cont} ${pid}`;
    await runOneShot(this.ctx.client, this.ctx.instance, ["/bin/sh", "-c", script + " 2>/dev/null; exit 0"]).catch(() => {});
  }

  /** Ended already (a warm session that died idle)? */
  get isDone(): boolean {
    return this.done || this.disposing !== undefined;
  }

  /**
   * Resolves when the command runs: sockets open and the wrapper's marker seen (or the
   * operation over). On failure the session is disposed and the error thrown.
   */
  started(): Promise<void> {
    const launched = async () => {
      await this.markerSeen;
      if (this.marker?.kind === "pid") await this.childSeen;
    };
    this.ready ??= this.connected
      .then(() => Promise.race([launched(), this.outcome]))
      .then(async () => {
        if (!this.launched) {
          // The operation ended first: give the records already sent a moment to be read.
          await Promise.race([launched(), finished(this.stderr).catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
        }
        if (!this.launched) throw await this.notStarted();
        if (this.marker?.kind === "nocwd") {
          throw new ExecError("NOT_FOUND", `work_dir ${this.spec?.cwd} does not exist in instance '${this.ctx.instance}'`);
        }
      })
      .catch(async (e) => {
        // Nobody will read these streams: let them drain so the command can end.
        this.stdout.resume();
        this.stderr.resume();
        await this.dispose();
        throw e;
      });
    return this.ready;
  }

  /** The wrapper reported the command's pid (or there is no wrapper to report it). */
  private get launched(): boolean {
    if (!this.ctx.wrap) return true;
    const m = this.marker;
    return m !== undefined && (m.kind !== "pid" || this.childPid !== undefined);
  }

  /** Why a command whose operation ended before it ran did not start. */
  private async notStarted(): Promise<ExecError> {
    const o = await this.outcome;
    if ("error" in o) return this.verdictOf(o.error);
    const gone = await this.instanceGone();
    if (gone) return new ExecError("GONE", `${this.what}: the instance ${gone} before the command started`);
    return new ExecError("INTERNAL", `${this.what}: the exec operation ended before the command started: ${o.op.err || `status ${o.op.status}, exit ${String(o.op.metadata?.return)}`}`);
  }

  /** Turn a warm session into `spec`: send the line its shell evaluates, then wait as started() does. */
  async run(spec: CommandSpec, line: string, token: string): Promise<void> {
    this.bind(spec, token);
    await this.writeStdin(Buffer.from(line, "utf8"));
    await this.started();
  }

  /** The command's pid inside the instance (the wrapper's child; unknown when unwrapped). */
  get pid(): number | undefined {
    return this.childPid ?? (this.marker?.kind === "pid" ? this.marker.pid : undefined);
  }

  /** We ended it: killed it, or sent a signal the wrapper may die of, or released it. */
  private get ours(): boolean {
    return this.disposing !== undefined || [...this.sent].some((s) => !WRAPPER_SURVIVES.has(s));
  }

  /**
   * Is this end of a stream the end of the command's output? Wrapped: only after the
   * wrapper's end record on that stream; unwrapped: the server's end frame.
   */
  private judge(stream: "out" | "err", how: EndHow): Promise<ExecError> | undefined {
    if (this.spec === undefined || this.ours) return undefined; // an idle warm session, or ended by us
    if (this.token !== undefined ? this.outputEnded[stream] : how === "frame") return undefined;
    return this.verdictOf(undefined, how);
  }

  /** The one error for a command whose end was not seen (`cause`: what failed, if known). */
  private verdictOf(cause: unknown, how: EndHow = "closed"): Promise<ExecError> {
    this.verdict ??= (async () => {
      if (cause instanceof ExecError && cause.kind === "TIMEOUT") return new ExecError("TIMEOUT", `${this.what}: ${cause.message}; the command's output is incomplete`);
      const gone = await this.instanceGone();
      if (gone) return new ExecError("GONE", `${this.what}: the instance ${gone} while the command ran; its output may be incomplete`);
      if (cause !== undefined || how === "closed") {
        const detail = cause instanceof Error ? ` (${cause.message})` : "";
        return new ExecError("UNAVAILABLE", `${this.what}: the connection to Incus at ${this.ctx.client.remote.address} was lost before the command ended${detail}; its output is incomplete`);
      }
      return new ExecError("GONE", `${this.what}: the command's wrapper process was killed from outside moonexec before the command ended; its output may be incomplete`);
    })();
    return this.verdict;
  }

  /**
   * "stopped" / "was removed" when the instance is not running (asked for up to 3 s: a
   * forced stop shows in its state a second or more after its processes died), else undefined.
   */
  private async instanceGone(): Promise<string | undefined> {
    const path = `/1.0/instances/${encodeURIComponent(this.ctx.instance)}`;
    for (let i = 0; i < 30; i++) {
      try {
        const st = await this.ctx.client.call<{ status?: string }>("GET", path, `instance '${this.ctx.instance}'`);
        if (st.metadata?.status !== "Running") return `'${this.ctx.instance}' was stopped (${st.metadata?.status ?? "?"})`;
      } catch (e) {
        if (e instanceof ExecError && e.kind === "NOT_FOUND") return `'${this.ctx.instance}' was removed`;
        // The daemon does not answer: that is the answer. (An error answer may come while it stops the instance.)
        if (!(e instanceof ExecError) || e.kind === "TIMEOUT" || e.message.startsWith("cannot reach")) return undefined;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return undefined;
  }

  /** The daemon stopped answering (heartbeat): end the command with `error`. */
  private lose(error: ExecError): void {
    if (this.done) return;
    this.verdict ??= Promise.resolve(new ExecError(error.kind, `${this.what}: ${error.message}; the command's output is incomplete`));
    void this.verdict.then((v) => {
      this.stdout.fail(v);
      this.stderr.fail(v);
      this.waitAbort.abort(v);
      this.closeSockets();
    });
  }

  private async exitInfo(o: OpOutcome): Promise<ExitInfo> {
    const cut = this.stdout.failure ?? this.stderr.failure;
    if (cut instanceof ExecError) return { code: -1, error: cut, note: cut.message };
    if ("error" in o) {
      if (this.ours) return { code: 128 + 9, signal: "SIGKILL" };
      const error = await this.verdictOf(o.error);
      return { code: -1, error, note: error.message };
    }
    const ret = o.op.metadata?.return;
    if (typeof ret !== "number") {
      if (this.ours) return { code: 128 + 9, signal: "SIGKILL" };
      const gone = await this.instanceGone();
      const error = gone
        ? new ExecError("GONE", `${this.what}: the instance ${gone} while the command ran`)
        : new ExecError("UNAVAILABLE", `${this.what}: ${o.op.err || `operation ended ${o.op.status} without an exit code`}`);
      return { code: -1, error, note: error.message };
    }
    if (ret > 128 && this.sent.has(ret - 128)) return { code: ret, signal: signalName(ret - 128) };
    return { code: ret };
  }

  private whenOpen(ws: WebSocket, fd: Fd): Promise<void> {
    return new Promise((resolve, reject) => {
      let status = 0;
      ws.once("unexpected-response", (_req, res) => {
        status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let msg = Buffer.concat(chunks).toString("utf8");
          try {
            msg = (JSON.parse(msg) as { error?: string }).error ?? msg;
          } catch {
            /* plain text */
          }
          reject(apiError(status, msg, this.ctx.client.remote, `${this.what}: websocket ${fd}`));
          ws.terminate();
        });
      });
      ws.once("open", () => resolve());
      ws.on("error", (e) => {
        if (ws.readyState === WebSocket.OPEN || status !== 0) return;
        const client = this.ctx.client;
        if (/handshake has timed out/i.test(e.message)) reject(noAnswer(`incus at ${client.remote.address}`, `the websocket handshake for ${fd}`, client.timeoutMs));
        else reject(transportError(e, client.remote));
      });
    });
  }

  writeStdin(data: Uint8Array): Promise<void> {
    const ws = this.sockets["0"];
    if (this.stdinClosed) return Promise.reject(new ExecError("CLOSED", "stdin is closed"));
    if (ws.readyState !== WebSocket.OPEN) return Promise.reject(new ExecError("CLOSED", "stdin is closed: the command has ended"));
    if (data.length === 0) return Promise.resolve();
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return new Promise((resolve, reject) => {
      for (let off = 0; off < buf.length; off += STDIN_FRAME) {
        const last = off + STDIN_FRAME >= buf.length;
        // Binary frames only: a text frame would mean EOF to the server.
        ws.send(buf.subarray(off, off + STDIN_FRAME), { binary: true }, (err) => {
          if (err) reject(new ExecError("CLOSED", `stdin: ${err.message}`));
          else if (last) resolve();
        });
      }
    });
  }

  async closeStdin(): Promise<void> {
    if (this.stdinClosed) return;
    // A terminal cannot be half-closed (an EOF frame would end the data socket): EOF is ^D.
    if (this.pty) {
      await this.writeStdin(EOT).catch(() => {});
      this.stdinClosed = true;
      return;
    }
    this.stdinClosed = true;
    const ws = this.sockets["0"];
    if (ws.readyState === WebSocket.OPEN) ws.send("", { binary: false }); // empty text frame = EOF
  }

  /** The control socket's window-resize: Incus resizes the terminal, the command gets SIGWINCH. */
  async resize(rows: number, cols: number): Promise<void> {
    if (this.done || !this.pty) return;
    const ws = this.sockets.control;
    if (ws.readyState !== WebSocket.OPEN) throw new ExecError("CLOSED", `cannot resize the terminal of ${this.spec?.argv[0]}: its control connection is closed`);
    ws.send(JSON.stringify({ command: "window-resize", args: { width: String(cols), height: String(rows) } }));
  }

  private sendControl(signo: number): boolean {
    const ws = this.sockets.control;
    if (ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify({ command: "signal", signal: signo }));
    return true;
  }

  async signal(signo: number): Promise<void> {
    if (this.done) return;
    await this.ready?.catch(() => {});
    if (this.done) return;
    this.sent.add(signo);
    const m = this.marker;
    if (m?.kind === "pid" && m.group) {
      if (signo === 9) this.sendControl(9); // the leader at once; the helper gets the rest of the tree
      try {
        await this.ctx.killer.kill(m.pid, signo);
        return;
      } catch {
        /* no kill in the instance: the control socket is all we have */
      }
      if (signo === 9) return;
    }
    if (!this.sendControl(signo) && !this.done) {
      throw new ExecError("CLOSED", `cannot signal ${this.spec?.argv[0]}: its control connection is closed`);
    }
  }

  dispose(): Promise<void> {
    this.disposing ??= this.teardown();
    return this.disposing;
  }

  private async teardown(): Promise<void> {
    await this.connected.catch(() => {});
    if (this.ready === undefined) {
      // A warm session never used: nobody reads its streams; let them drain.
      this.stdout.resume();
      this.stderr.resume();
    }
    const alive = !this.done;
    if (alive) {
      this.sent.add(9);
      // Without a control connection, closing the sockets makes the server SIGKILL the command.
      if (!this.sendControl(9)) this.closeSockets();
    }
    const m = this.marker;
    // Also after a normal exit: background children of the command may still run.
    if (m?.kind === "pid" && m.group) await this.ctx.killer.kill(m.pid, 9).catch(() => {});
    if (alive) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, DISPOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.closeSockets();
    this.heartbeat.stop();
    this.waitAbort.abort();
    if (!this.stdout.complete) this.stdout.destroy();
    if (!this.stderr.complete) this.stderr.destroy();
  }

  private closeSockets(): void {
    for (const fd of this.pty ? PTY_FDS : FDS) {
      const ws = this.sockets[fd];
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.terminate();
    }
  }
}
