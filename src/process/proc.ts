/**
 * A command as the script sees it: created by executor:exec(), started by start().
 * Backend-neutral: streams exist from creation, stdin written before start is queued,
 * a timeout kills the whole command, and wait() reports the exit only after the output
 * has drained.
 */
import { ExecError, toExecError } from "../errors.js";
import type { CommandSpec, RunningCommand } from "../backend/contract.js";
import { OutputStream, type FlowOwner } from "../stream/output-stream.js";
import { OutputFanout } from "../stream/fanout.js";
import { commandEnding, type ProcExit } from "./ending.js";
import { armTimeout } from "./timeout.js";

export type { ProcExit };
export type ProcState = "created" | "starting" | "running" | "exited";

export interface ProcOptions {
  /** Seconds (checked by checkTimeout); the command is killed when they have passed. */
  timeout?: number;
  stdin?: Uint8Array;
  encoding?: string;
  bufferBytes?: number;
  /** Background processes survive a REPL Ctrl-C; only release/dispose stops them. Their output goes to a replay ring. */
  background?: boolean;
  /** Name for executor:kill/attach (background processes). */
  tag?: string;
  /** Replay ring size per stream for background processes (bytes). */
  ringBytes?: number;
  /** Called on the first bulk output of each of its streams. */
  onBulkOutput?: () => void;
  /** Called once when the command has ended (exit) or failed to start (error). */
  onEnd?: (proc: Proc, exit: ProcExit | undefined, error: ExecError | undefined) => void;
}

export class Proc implements FlowOwner {
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /** Background processes only: the replay rings that attach() subscribes to. */
  readonly logs: { stdout: OutputFanout; stderr: OutputFanout } | undefined;
  state: ProcState = "created";
  private cmd: RunningCommand | undefined;
  private startPromise: Promise<void> | undefined;
  private exitInfo: ProcExit | undefined;
  private exitPromise: Promise<ProcExit> | undefined;
  private pendingStdin: Uint8Array[] = [];
  private stdinClosed = false;
  private disarm: (() => void) | undefined;
  private timedOut = false;
  private waiters = 0;
  readonly createdAt = Date.now();
  startedAt: number | undefined;

  constructor(
    readonly spec: CommandSpec,
    private readonly spawn: (spec: CommandSpec) => RunningCommand | Promise<RunningCommand>,
    private readonly opts: ProcOptions = {},
  ) {
    if (opts.background) {
      this.logs = { stdout: new OutputFanout("stdout", opts.encoding, opts.ringBytes), stderr: new OutputFanout("stderr", opts.encoding, opts.ringBytes) };
      this.stdout = this.logs.stdout.subscribe(this);
      this.stderr = this.logs.stderr.subscribe(this);
    } else {
      this.stdout = new OutputStream("stdout", this, opts.encoding, opts.bufferBytes);
      this.stderr = new OutputStream("stderr", this, opts.encoding, opts.bufferBytes);
    }
  }

  get tag(): string | undefined {
    return this.opts.tag;
  }

  /** Resolves when the command has ended or failed to start; never rejects. */
  whenDone(): Promise<void> {
    if (!this.startPromise) return new Promise(() => {}); // not started: never done
    return this.startPromise.then(() => this.exitPromise!).then(
      () => {},
      () => {},
    );
  }

  get background(): boolean {
    return this.opts.background === true;
  }

  get waiting(): boolean {
    return this.waiters > 0;
  }

  bulkOutput(): void {
    this.opts.onBulkOutput?.();
  }

  /** The script waits on this command while `p` runs: meanwhile its output flows freely. */
  async waitedOn<T>(p: Promise<T>): Promise<T> {
    this.waiters++;
    this.stdout.resumeFlow();
    this.stderr.resumeFlow();
    try {
      return await p;
    } finally {
      this.waiters--;
    }
  }

  get pid(): number | undefined {
    return this.cmd?.pid;
  }

  get exit(): ProcExit | undefined {
    return this.exitInfo;
  }

  /** Undefined when the command is running already (the backend started it synchronously). */
  start(): Promise<void> | undefined {
    if (this.startPromise) return Promise.reject(new ExecError("STATE", "process already started"));
    this.state = "starting";
    this.startedAt = Date.now();
    let started: Promise<void> | undefined;
    try {
      const cmd = this.spawn(this.spec);
      started = cmd instanceof Promise ? cmd.then((c) => this.running(c), (e) => Promise.reject(this.failed(e))) : this.running(cmd);
    } catch (e) {
      started = Promise.reject(this.failed(e));
    }
    this.startPromise = started ?? Promise.resolve();
    return started;
  }

  /** The command could not start: end its streams and report. */
  private failed(e: unknown): ExecError {
    this.state = "exited";
    // The streams end empty (a background process's rings end their readers).
    for (const out of this.logs ? [this.logs.stdout, this.logs.stderr] : [this.stdout, this.stderr]) out.abort();
    const err = toExecError(e);
    this.opts.onEnd?.(this, undefined, err);
    this.exitPromise = Promise.reject(err);
    this.exitPromise.catch(() => {});
    return err;
  }

  /** The command runs: wire its output, exit and timeout; a promise only while queued stdin is written. */
  private running(cmd: RunningCommand): Promise<void> | undefined {
    this.cmd = cmd;
    this.state = "running";
    if (this.logs) {
      this.logs.stdout.attach(cmd.stdout);
      this.logs.stderr.attach(cmd.stderr);
    } else {
      this.stdout.attach(cmd.stdout);
      this.stderr.attach(cmd.stderr);
    }
    this.exitPromise = cmd.exited.then((info) => {
      this.disarm?.();
      this.state = "exited";
      const exit = (this.exitInfo = commandEnding(info, cmd, this.timedOut));
      const lost = this.timedOut ? undefined : exit.error;
      this.opts.onEnd?.(this, exit, lost);
      if (lost) throw lost;
      return exit;
    });
    this.exitPromise.catch(() => {});
    if (this.opts.timeout !== undefined) {
      this.disarm = armTimeout(this.opts.timeout, () => {
        this.timedOut = true;
        void cmd.signal(9).catch(() => {});
      });
    }
    const queued = this.pendingStdin;
    this.pendingStdin = [];
    if (this.opts.stdin) queued.push(this.opts.stdin);
    const close = this.stdinClosed || this.opts.stdin !== undefined;
    if (queued.length === 0 && !close) return undefined;
    return (async () => {
      for (const chunk of queued) await cmd.writeStdin(chunk).catch(() => {});
      if (close) {
        this.stdinClosed = true;
        await cmd.closeStdin().catch(() => {});
      }
    })();
  }

  wait(): Promise<ProcExit> {
    if (!this.startPromise) return Promise.reject(new ExecError("STATE", "process not started: call proc:start() first"));
    return this.waitedOn(this.startPromise.then(() => this.exitPromise!));
  }

  async writeStdin(data: Uint8Array): Promise<void> {
    if (this.stdinClosed) throw new ExecError("CLOSED", "stdin is closed");
    if (!this.cmd) {
      this.pendingStdin.push(data);
      return;
    }
    if (this.state === "exited") throw new ExecError("CLOSED", "process has exited");
    await this.waitedOn(this.cmd.writeStdin(data));
  }

  async closeStdin(): Promise<void> {
    if (this.stdinClosed) return;
    this.stdinClosed = true;
    if (this.cmd) await this.cmd.closeStdin();
  }

  async signal(signo: number): Promise<void> {
    if (!this.cmd) throw new ExecError("STATE", "process not started");
    if (this.state === "exited") return;
    await this.cmd.signal(signo);
  }

  /** Resize the command's terminal; its programs see SIGWINCH. */
  async resize(rows: number, cols: number): Promise<void> {
    if (!this.spec.pty) throw new ExecError("STATE", "proc:resize: the process has no terminal (start it with pty = true)");
    for (const [name, v] of [["rows", rows], ["cols", cols]] as const)
      if (!Number.isInteger(v) || v < 1 || v > 65535) throw new ExecError("INVALID", `proc:resize: ${name} must be an integer from 1 to 65535, got ${String(v)}`);
    this.spec.pty = { ...this.spec.pty, rows, cols };
    if (!this.cmd || this.state === "exited") return; // the new size applies when it starts; nothing to resize after the end
    await this.waitedOn(this.cmd.resize!(rows, cols));
  }

  /** Close the handle: stop reading, end stdin; with force also kill the command. */
  async close(force: boolean): Promise<void> {
    this.stdout.close();
    this.stderr.close();
    await this.closeStdin().catch(() => {});
    if (force) await this.dispose();
  }

  /** Kill and free everything (release, host shutdown). */
  async dispose(): Promise<void> {
    this.disarm?.();
    if (this.startPromise) await this.startPromise.catch(() => {});
    await this.cmd?.dispose();
  }

  signalName(): string | undefined {
    return this.exitInfo?.signal;
  }
}
