/** One exec.ssh executor: commands and files over the pooled connections of pool.ts. */
import type { CommandSpec, ExecutorBackend, RunningCommand } from "../contract.js";
import { ExecError } from "../../errors.js";
import { SshPool } from "./pool.js";
import { startSshCommand, type SshCommand } from "./ssh-command.js";
import { pullFile, pushFile, type PushOptions } from "./files.js";

export class SshBackend implements ExecutorBackend {
  private readonly live = new Set<SshCommand>();
  private released = false;
  readonly terminals = true;

  constructor(private readonly pool: SshPool) {}

  async spawn(spec: CommandSpec): Promise<RunningCommand> {
    if (this.released) throw new ExecError("CLOSED", `executor for ${this.pool.name} was released`);
    const cmd = await startSshCommand(this.pool, spec);
    this.live.add(cmd);
    return cmd;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // The executor disposes its commands first; this catches any that were not handed out.
    await Promise.allSettled([...this.live].map((c) => c.dispose()));
    this.live.clear();
    // Closing the connections also makes each watcher kill what is left (wrapper.ts).
    this.pool.close();
  }

  pushFile(data: Uint8Array, remotePath: string, opts: PushOptions): Promise<void> {
    if (this.released) return Promise.reject(new ExecError("CLOSED", "executor was released"));
    return pushFile(this.pool, data, remotePath, opts);
  }

  pullFile(remotePath: string): Promise<Uint8Array> {
    if (this.released) return Promise.reject(new ExecError("CLOSED", "executor was released"));
    return pullFile(this.pool, remotePath);
  }
}
