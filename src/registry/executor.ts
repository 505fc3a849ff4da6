/**
 * An executor obtained by exec.get(id): applies the entry's defaults and whitelist,
 * builds Procs, and on release() stops every command it started.
 */
import { ExecError } from "../errors.js";
import type { Entry } from "../config/entry.js";
import type { ExecutorBackend } from "../backend/contract.js";
import { splitCommand } from "../process/argv.js";
import type { ExecOptions } from "../process/exec-options.js";
import { Proc, type ProcExit } from "../process/proc.js";
import { Whitelist } from "./whitelist.js";

/** One line of the audit log (--verbose): what ran where, for how long, and how it ended. */
export interface AuditEvent {
  executor: string;
  kind: string;
  argv: string[];
  cwd?: string;
  pid?: number;
  started_at: string;
  duration_ms: number;
  exit_code?: number;
  signal?: string;
  timed_out?: boolean;
  error?: string;
}

export interface ExecutorOptions {
  /** Per-stream unread-output bound (bytes) before a busy script pauses the producer. */
  bufferBytes?: number;
  audit?: (event: AuditEvent) => void;
  /** Default replay ring per stream for background processes (bytes). */
  ringBytes?: number;
  /** Called on a command's first bulk output (the host's process-wide memory tuning). */
  onBulkOutput?: () => void;
}

export class Executor {
  private readonly procs = new Set<Proc>();
  private released = false;
  private readonly whitelist: Whitelist;

  constructor(
    readonly entry: Entry,
    readonly backend: ExecutorBackend,
    private readonly options: ExecutorOptions = {},
    private readonly onRelease?: (e: Executor) => void,
  ) {
    this.whitelist = new Whitelist(entry.command_whitelist);
  }

  get id(): string {
    return this.entry.id;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Build a command (not started). Whitelist and argument errors throw before anything runs. */
  exec(command: string | string[], opts: ExecOptions): Proc {
    if (this.released) throw new ExecError("CLOSED", `executor ${this.id} was released`);
    const argv = typeof command === "string" ? splitCommand(command) : command;
    if (argv.length === 0 || argv[0] === "") throw new ExecError("INVALID", "cmd: empty command");
    const nul = argv.findIndex((w) => w.includes("\0"));
    if (nul >= 0) throw new ExecError("INVALID", `cmd: word ${nul + 1} contains a NUL byte (no program can receive one)`);
    this.whitelist.check(command, this.id);
    let tag = opts.tag;
    if (opts.background) {
      tag ??= `proc-${Math.floor(Math.random() * 2 ** 32).toString(16).padStart(8, "0")}`; // a name, not a secret
      if (this.running().some((p) => p.tag === tag)) throw new ExecError("INVALID", `opts.tag: '${tag}' is already used by a running process of ${this.id}`);
    } else if (tag !== undefined) throw new ExecError("INVALID", "opts.tag: only background processes have tags");
    if (opts.pty && !this.backend.terminals) throw new ExecError("INVALID", `opts.pty: executor ${this.id} (${this.entry.kind}) does not offer terminals`);
    const env = { ...this.entry.default_env, ...opts.env };
    const spec = { argv, cwd: opts.workDir ?? this.entry.default_work_dir, env, ...(opts.pty ? { pty: opts.pty } : {}) };
    const proc = new Proc(spec, (spec) => this.backend.spawn(spec), {
      timeout: opts.timeout,
      stdin: opts.stdin,
      encoding: opts.encoding,
      bufferBytes: this.options.bufferBytes,
      background: opts.background,
      tag,
      ringBytes: opts.ringSize ?? this.options.ringBytes,
      onBulkOutput: this.options.onBulkOutput,
      onEnd: (p, exit, error) => {
        this.procs.delete(p); // ended: nothing left to kill on release
        if (this.options.audit) this.audit(p, exit, error);
      },
    });
    this.procs.add(proc);
    return proc;
  }

  private audit(p: Proc, exit: ProcExit | undefined, error: ExecError | undefined): void {
    const started = p.startedAt ?? p.createdAt;
    this.options.audit?.({
      executor: this.id,
      kind: this.entry.kind,
      argv: p.spec.argv,
      cwd: p.spec.cwd,
      pid: p.pid,
      started_at: new Date(started).toISOString(),
      duration_ms: Date.now() - started,
      exit_code: exit?.code,
      signal: exit?.signal,
      timed_out: exit?.timedOut || undefined,
      error: error ? `${error.kind}: ${error.message}` : undefined,
    });
  }

  /** Kill running commands that are not background processes (REPL Ctrl-C). */
  async killForeground(): Promise<void> {
    const fg = [...this.procs].filter((p) => !p.background && p.state !== "exited");
    await Promise.allSettled(fg.map((p) => p.dispose()));
  }

  /** Commands started and not yet ended. */
  running(): Proc[] {
    return [...this.procs].filter((p) => p.state === "starting" || p.state === "running");
  }

  /** A running process by pid (number) or tag (string). */
  find(selector: number | string): Proc {
    const found = this.running().find((p) => (typeof selector === "number" ? p.pid === selector : p.tag === selector));
    if (!found) throw new ExecError("NOT_FOUND", `no running process ${typeof selector === "number" ? "with pid " + selector : "tagged '" + selector + "'"} in ${this.id}`);
    return found;
  }

  /** Idempotent: kills what still runs, then frees the backend (containers, connections). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.onRelease?.(this);
    await Promise.allSettled([...this.procs].map((p) => p.dispose()));
    this.procs.clear();
    await this.backend.release();
  }
}
