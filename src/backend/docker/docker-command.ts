/** A command running in the executor's container through an agent: the RunningCommand for docker. */
import { setTimeout as delay } from "node:timers/promises";
import { finished } from "node:stream/promises";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, RunningCommand } from "../contract.js";
import { signalName } from "../../process/signals.js";
import type { Agent } from "./agent.js";
import type { AgentRun, RunEnd, RunStart } from "./agent-run.js";
import { noShell, type ExecutorContainer } from "./container.js";
import type { DockerEntry } from "./entry.js";
import { workDirIsContainerDefault } from "./create-options.js";
import { Heartbeat } from "../heartbeat.js";
import { startDockerTty } from "./tty-command.js";

const SIGKILL = 9;

export async function startDocker(container: ExecutorContainer, entry: DockerEntry, spec: CommandSpec): Promise<RunningCommand> {
  for (const [i, a] of spec.argv.entries()) {
    if (a.includes("\0")) throw new ExecError("INVALID", `cmd: argument ${i + 1} contains a NUL byte`);
  }
  for (const [k, v] of Object.entries(spec.env)) {
    if (k === "" || k.includes("=") || k.includes("\0") || v.includes("\0")) throw new ExecError("INVALID", `env: invalid variable ${JSON.stringify(k)}`);
  }
  // Commands start in the container's working directory, which is default_work_dir unless
  // that is a mount point (see workDirIsContainerDefault); elsewhere they cd.
  const inDefault = spec.cwd === entry.default_work_dir && workDirIsContainerDefault(entry);
  const cwd = spec.cwd !== undefined && !inDefault ? spec.cwd : undefined;
  if (spec.pty) return startDockerTty(container, { ...spec, pty: spec.pty }, cwd, entry);
  const agent = await container.acquire();
  const run = agent.begin(spec.argv, spec.env, cwd);
  const startedAt = Date.now();
  // A daemon that stops answering under the command (also before its start header came).
  const heartbeat = new Heartbeat(
    container.timeoutMs,
    () => container.ping(),
    (e) => agent.lose(e instanceof Error ? e : new Error(String(e))),
  );
  run.onActivity = () => heartbeat.touch();
  run.ended.then(
    () => heartbeat.stop(),
    () => heartbeat.stop(),
  );
  let start: RunStart;
  try {
    start = await run.started;
  } catch (e) {
    run.stdout.resume();
    run.stderr.resume();
    run.ended.then(
      (end) => container.giveBack(agent, end.clean),
      () => container.giveBack(agent, false),
    );
    throw startError(e, spec, entry);
  }
  return new DockerCommand(container, agent, run, start, startedAt, entry);
}

function startError(e: unknown, spec: CommandSpec, entry: DockerEntry): ExecError {
  const err = e instanceof ExecError ? e : new ExecError("INTERNAL", String(e));
  if (err.message === "command not found") return new ExecError("NOT_FOUND", `command not found: ${spec.argv[0]}`);
  if (err.message === "work_dir does not exist") return new ExecError("NOT_FOUND", `work_dir ${spec.cwd} does not exist in the container`);
  if (/executable file not found|no such file or directory/i.test(err.message) && /exec failed|OCI runtime/i.test(err.message)) {
    return noShell(entry, err.message);
  }
  return err;
}

class DockerCommand implements RunningCommand {
  readonly exited: Promise<ExitInfo>;
  private readonly sent = new Set<number>();
  private end: RunEnd | undefined;
  private done = false;

  constructor(
    private readonly container: ExecutorContainer,
    private readonly agent: Agent,
    private readonly run: AgentRun,
    private readonly start: RunStart,
    private readonly startedAt: number,
    private readonly entry: DockerEntry,
  ) {
    const drained = Promise.all([finished(run.stdout).catch(() => {}), finished(run.stderr).catch(() => {})]);
    // The agent's connection ended before the command's end trailers: say why, on the
    // streams (after the bytes that came) and in wait().
    let verdict: Promise<ExecError> | undefined;
    run.onLost = (e) => (verdict ??= this.lossError(e));
    const ended = run.ended.then(
      (end) => {
        this.end = end;
        container.giveBack(agent, end.clean && start.group);
        return this.exitInfo(end.status);
      },
      async (e: Error): Promise<ExitInfo> => {
        container.giveBack(agent, false);
        const error = await (verdict ??= this.lossError(e));
        return { code: -1, error, note: error.message };
      },
    );
    this.exited = Promise.all([ended, drained]).then(([info]) => {
      this.done = true;
      return info;
    });
  }

  get stdout() {
    return this.run.stdout;
  }
  get stderr() {
    return this.run.stderr;
  }
  get pid() {
    return this.start.pid;
  }

  /** What a lost agent connection means: the container went away (GONE), or the daemon is lost. */
  private async lossError(e: Error): Promise<ExecError> {
    const what = `docker: ${this.run.argv0}`;
    if (e instanceof ExecError && e.kind === "CLOSED") return e; // released by us
    if (e instanceof ExecError && e.kind === "TIMEOUT") return new ExecError("TIMEOUT", `${what}: ${e.message}; the command's output is incomplete`);
    if ((await this.container.whyLost()) === "gone") {
      return new ExecError("GONE", `${what}: the executor's container was stopped, killed or removed while the command ran; its output may be incomplete`);
    }
    return new ExecError("UNAVAILABLE", `${what}: the connection to the docker daemon was lost before the command ended (${e.message}); its output is incomplete`);
  }

  private async exitInfo(status: number): Promise<ExitInfo> {
    if (status > 128 && status < 128 + 65 && this.sent.has(status - 128)) {
      return { code: status, signal: signalName(status - 128) };
    }
    if (status === 128 + SIGKILL && (await this.container.oomSince(this.startedAt))) {
      const limit = this.entry.memory_limit !== undefined ? ` (memory_limit ${this.entry.memory_limit} bytes)` : "";
      return { code: status, signal: "SIGKILL", note: `out of memory: the container's memory limit was reached${limit} and the kernel OOM killer ended the command` };
    }
    return { code: status };
  }

  writeStdin(data: Uint8Array): Promise<void> {
    if (this.run.isSettled) return Promise.reject(new ExecError("CLOSED", "process has exited"));
    return this.agent.writeStdin(data);
  }

  async closeStdin(): Promise<void> {
    // Once the run is over the agent may already serve another command: hands off.
    if (this.run.isSettled) return;
    this.agent.closeStdin();
  }

  /** To the command's process group (its own session, via setsid) where the image has setsid, else to its pid. */
  async signal(signo: number): Promise<void> {
    if (this.run.isSettled) return;
    this.sent.add(signo);
    await this.container.signal(signo, this.start.group ? -this.start.pid : this.start.pid);
  }

  async dispose(): Promise<void> {
    if (!this.run.isSettled) {
      await this.signal(SIGKILL);
      const settled = await Promise.race([this.run.ended.then(() => true, () => true), delay(3000, undefined, { ref: false }).then(() => false)]);
      if (!settled) this.agent.retire(); // the connection goes, and with it the relays
    } else if (this.end && !this.end.clean && this.start.group) {
      // Exited, but something it started in the background still runs: end that too.
      await this.container.signal(SIGKILL, -this.start.pid);
    }
    if (!this.done) await Promise.race([this.exited, delay(2000, undefined, { ref: false })]);
  }
}
