/** One exec.incus executor: spawns commands in the instance, moves files, releases connections. */
import type { CommandSpec, ExecutorBackend, RunningCommand } from "../contract.js";
import { ExecError } from "../../errors.js";
import type { IncusClient } from "./client.js";
import { GroupKiller } from "./group-killer.js";
import { startIncusCommand, type IncusCommand, type IncusExecContext } from "./incus-command.js";
import { WarmPool } from "./warm-pool.js";
import { newToken, warmLine } from "./wrapper.js";
import { pullFile, pushFile, type PushOptions } from "./files.js";
import { runOneShot } from "./operation.js";
import { ExecutorGuard } from "./guard.js";

export class IncusBackend implements ExecutorBackend {
  private readonly ctx: IncusExecContext;
  private readonly live = new Set<IncusCommand>();
  private readonly pool: WarmPool;
  private readonly guard: ExecutorGuard;
  private released = false;
  readonly terminals = true;

  constructor(
    private readonly client: IncusClient,
    readonly instance: string,
    opts: { user?: number; group?: number; wrap: boolean; warm: number },
  ) {
    this.ctx = {
      client,
      instance,
      project: client.project,
      user: opts.user,
      group: opts.group,
      wrap: opts.wrap,
      killer: new GroupKiller((argv) => runOneShot(client, instance, argv)),
    };
    this.pool = new WarmPool(this.ctx, opts.wrap ? opts.warm : 0);
    this.guard = new ExecutorGuard(this.ctx);
  }

  async spawn(spec: CommandSpec): Promise<RunningCommand> {
    if (this.released) throw new ExecError("CLOSED", `executor for instance '${this.instance}' was released`);
    const guard = await this.guard.id();
    const cmd = (await this.startWarm(spec, guard)) ?? (await startIncusCommand(this.ctx, spec, guard));
    this.pool.succeeded();
    this.live.add(cmd);
    void cmd.exited.then(() => {
      // Keep it until disposed when background children may remain (the group kill needs it).
      if (cmd.pid === undefined) this.live.delete(cmd);
    });
    return cmd;
  }

  /** Run `spec` in a warm session when there is one; undefined = start it the normal way. */
  private async startWarm(spec: CommandSpec, guard: string): Promise<IncusCommand | undefined> {
    // Warm sessions are not interactive: a terminal command gets an exec of its own.
    if (!this.ctx.wrap || spec.pty) return undefined;
    const token = newToken();
    const line = warmLine(spec.argv, spec.cwd, spec.env, token, guard);
    if (line === undefined) return undefined;
    const session = await this.pool.take();
    if (!session) return undefined;
    try {
      await session.run(spec, line, token);
      return session;
    } catch (e) {
      // A missing work_dir is the command's error; anything else means the session died.
      if (e instanceof ExecError && e.kind === "NOT_FOUND") throw e;
      return undefined;
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.pool.close();
    // The executor disposes its commands first; this catches any that were not handed out.
    await Promise.allSettled([...this.live].map((c) => c.dispose()));
    this.live.clear();
    // Last: its end makes the watchers kill what is left in their groups (nothing by now).
    await this.guard.close();
    this.client.close();
  }

  pushFile(data: Uint8Array, remotePath: string, opts: PushOptions): Promise<void> {
    if (this.released) return Promise.reject(new ExecError("CLOSED", "executor was released"));
    return pushFile(this.client, this.instance, data, remotePath, opts);
  }

  pullFile(remotePath: string): Promise<Uint8Array> {
    if (this.released) return Promise.reject(new ExecError("CLOSED", "executor was released"));
    return pullFile(this.client, this.instance, remotePath);
  }
}
