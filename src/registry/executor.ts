/**
 * An executor obtained by exec.get(id): applies the entry's defaults and whitelist,
 * builds Procs, and on release() stops every command it started.
 */
import { ExecError } from "../errors.js";
import type { Entry } from "../config/entry.js";
import type { ExecutorBackend } from "../backend/contract.js";
import { splitCommand } from "../process/argv.js";
import type { ExecOptions } from "../process/exec-options.js";
import { Proc } from "../process/proc.js";
import { Whitelist } from "./whitelist.js";

export class Executor {
  private readonly procs = new Set<Proc>();
  private released = false;
  private readonly whitelist: Whitelist;

  constructor(
    readonly entry: Entry,
    readonly backend: ExecutorBackend,
    private readonly bufferBytes?: number,
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
    this.whitelist.check(command, this.id);
    const env = { ...this.entry.default_env, ...opts.env };
    const proc = new Proc({ argv, cwd: opts.work_dir ?? this.entry.default_work_dir, env }, (spec) => this.backend.spawn(spec), {
      timeoutSeconds: opts.timeout,
      stdin: opts.stdin,
      encoding: opts.encoding,
      bufferBytes: this.bufferBytes,
    });
    this.procs.add(proc);
    return proc;
  }

  get processes(): Proc[] {
    return [...this.procs];
  }

  /** Idempotent: kills what still runs, then frees the backend (containers, connections). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await Promise.allSettled([...this.procs].map((p) => p.dispose()));
    this.procs.clear();
    await this.backend.release();
  }
}
