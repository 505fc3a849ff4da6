/**
 * The executor's container: created lazily at the first command, kept alive by the init
 * (agent-script.ts) while moonexec holds its attach connection, removed on release.
 * It also keeps the pool of idle agents and relays signals through the init.
 */
import type { Duplex } from "node:stream";
import type Dockerode from "dockerode";
import { ExecError } from "../../errors.js";
import type { DockerEntry } from "./entry.js";
import { createOptions } from "./create-options.js";
import { FrameDemux } from "./demux.js";
import { daemonMessage, dockerError, statusOf } from "./errors.js";
import { Agent } from "./agent.js";
import { noAnswer, withDeadline } from "../request-timeout.js";
import { EVENT_CLOCK_SLACK_S } from "../../constants.js";

/**
 * Container create/start/kill/remove run real work in the daemon (and take seconds on a
 * loaded host): they get this many request_timeouts.
 */
export const SLOW_CALLS = 6;

/** Idle agents kept for reuse; more are retired. */
const MAX_IDLE_AGENTS = 4;

export class ExecutorContainer {
  private ready: Promise<Dockerode.Container> | undefined;
  private container: Dockerode.Container | undefined;
  private attach: Duplex | undefined;
  private replies: Array<(status: number) => void> = [];
  private replyLine = "";
  private idle: Agent[] = [];
  private readonly agents = new Set<Agent>();
  private released = false;
  private gone: string | undefined;
  /** When the current container was created (our clock): where its event log starts. */
  private startedAt = 0;

  constructor(
    private readonly docker: Dockerode,
    private readonly entry: DockerEntry,
    private readonly hostUrl: string,
    /** request_timeout: the deadline of every daemon call. */
    readonly timeoutMs: number,
  ) {}

  /** One daemon call that must answer within request_timeout (TIMEOUT naming `what` otherwise). */
  deadline<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs, `docker at ${this.hostUrl}`, what, call);
  }

  /** A call that does real work in the daemon (creating, starting, removing a container): SLOW_CALLS times as long. */
  private slowDeadline<T>(what: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return withDeadline(this.timeoutMs * SLOW_CALLS, `docker at ${this.hostUrl}`, what, call);
  }

  /** Does the daemon answer? (the heartbeat's probe) */
  ping(): Promise<unknown> {
    return this.deadline("GET /_ping", (abortSignal) => (this.docker.ping as (o: object) => Promise<unknown>).call(this.docker, { abortSignal }));
  }

  /**
   * Create, attach and start the container once — again after it went away (stopped,
   * killed, its init's connection cut) or could not be made, so the executor recovers once
   * the daemon is back.
   */
  private ensure(): Promise<Dockerode.Container> {
    if (this.released) return Promise.reject(new ExecError("CLOSED", `executor ${this.entry.id} was released`));
    if (this.gone && this.ready) this.forget();
    if (!this.ready) {
      const ready = this.create();
      this.ready = ready;
      ready.catch(() => {
        if (this.ready === ready) this.ready = undefined;
      });
    }
    return this.ready;
  }

  /** Drop a container that went away (best effort removal: the daemon may be gone too). */
  private forget(): void {
    const old = this.container;
    for (const agent of this.agents) agent.retire();
    this.agents.clear();
    this.idle = [];
    this.attach?.destroy();
    this.onInitGone();
    this.ready = undefined;
    this.container = undefined;
    this.attach = undefined;
    this.gone = undefined;
    this.replyLine = "";
    if (old && this.entry.auto_remove !== false) void this.slowDeadline("DELETE /containers", (abortSignal) => old.remove({ force: true, v: true, abortSignal })).catch(() => {});
  }

  private async create(): Promise<Dockerode.Container> {
    let container: Dockerode.Container;
    this.startedAt = Date.now();
    try {
      container = await this.slowDeadline("POST /containers/create", (abortSignal) => this.docker.createContainer({ ...createOptions(this.entry), abortSignal } as Dockerode.ContainerCreateOptions));
    } catch (e) {
      throw this.createError(e);
    }
    this.container = container;
    const short = container.id.slice(0, 12);
    try {
      // Attach before start: the init's stdin is this connection (see INIT_SCRIPT).
      const socket = (await this.deadline(`POST /containers/${short}/attach`, (abortSignal) =>
        container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true, abortSignal }),
      )) as unknown as Duplex;
      this.attach = socket;
      const demux = new FrameDemux(
        (stream, piece) => this.onInitOutput(stream, piece),
        () => initGone(),
      );
      // Only this container's connection: after forget() a new one may be current.
      const initGone = () => {
        if (this.attach === socket) this.onInitGone();
      };
      socket.on("error", initGone);
      socket.on("close", initGone);
      socket.pipe(demux);
      await this.slowDeadline(`POST /containers/${short}/start`, (abortSignal) => container.start({ abortSignal }));
    } catch (e) {
      await this.remove().catch(() => {});
      if (/executable file not found|no such file or directory/i.test(daemonMessage(e))) throw noShell(this.entry, daemonMessage(e));
      throw dockerError(e, this.hostUrl, "starting the container");
    }
    if (this.released) {
      await this.remove().catch(() => {});
      throw new ExecError("CLOSED", `executor ${this.entry.id} was released`);
    }
    return container;
  }

  private createError(e: unknown): ExecError {
    const status = statusOf(e);
    const msg = daemonMessage(e);
    if (status === 404 && /image/i.test(msg)) return imageMissing(this.entry, this.hostUrl);
    return dockerError(e, this.hostUrl, `creating a container from ${this.entry.image}`);
  }

  /** The container stopped or was removed (its init's connection ended). */
  get isGone(): boolean {
    return this.gone !== undefined;
  }

  /**
   * After a connection ended unexpectedly: is the container gone (stopped, being removed)?
   * Asks the daemon for up to a second, as a removal shows up in its state a moment later.
   */
  async checkGone(): Promise<boolean> {
    const container = this.container;
    for (let i = 0; i < 10 && container && !this.gone; i++) {
      try {
        const st = (await this.deadline(`GET /containers/${container.id.slice(0, 12)}/json`, (abortSignal) => container.inspect({ abortSignal }))).State;
        if (!st?.Running || st.Dead || st.Status === "removing" || st.Status === "exited" || st.Status === "dead") this.markGone();
      } catch (e) {
        if (statusOf(e) === 404) this.markGone();
        else break;
      }
      if (!this.gone) await new Promise((r) => setTimeout(r, 100));
    }
    return this.gone !== undefined;
  }

  /**
   * A command's connection ended early: did the container go away under it ("gone"), or did
   * the connections to the daemon break ("lost")? When only the connections broke, the
   * container is still running at first — its init ends a moment later, with status 0,
   * because its own connection is gone (INIT_SCRIPT) — while a killed or removed container
   * ends with a signal status (137 after a kill or a forced removal).
   */
  async whyLost(): Promise<"gone" | "lost"> {
    const container = this.container;
    if (!container) return "lost";
    let sawRunning = false;
    for (let i = 0; i < 10; i++) {
      let st: Dockerode.ContainerInspectInfo["State"];
      try {
        st = (await this.deadline(`GET /containers/${container.id.slice(0, 12)}/json`, (abortSignal) => container.inspect({ abortSignal }))).State;
      } catch (e) {
        if (statusOf(e) !== 404) return "lost";
        this.markGone();
        if (sawRunning) return "lost";
        // Already removed (AutoRemove): how it died is still in the daemon's event log.
        const code = await this.exitCodeOnRecord(container.id).catch(() => undefined);
        return code === 0 ? "lost" : "gone";
      }
      if (st.Status === "exited" || st.Status === "dead" || st.Status === "removing" || !st.Running) {
        this.markGone();
        return st.ExitCode === 0 && !st.OOMKilled ? "lost" : "gone";
      }
      sawRunning = true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return "lost";
  }

  /**
   * The exit code in the container's "die" event, or undefined when the daemon no longer has
   * it. Asks up to a second past now: the event log is read to that point, then the answer ends.
   */
  private async exitCodeOnRecord(id: string): Promise<number | undefined> {
    const since = Math.floor(this.startedAt / 1000) - EVENT_CLOCK_SLACK_S;
    const until = Math.ceil(Date.now() / 1000) + 1;
    const text = await this.deadline(`GET /events (container ${id.slice(0, 12)})`, async (abortSignal) => {
      const body = (await this.docker.getEvents({
        since,
        until,
        filters: { type: ["container"], container: [id], event: ["die"] },
        abortSignal,
      } as Dockerode.GetEventsOptions)) as unknown as NodeJS.ReadableStream;
      let all = "";
      for await (const piece of body) all += String(piece);
      return all;
    });
    for (const line of text.split("\n")) {
      const code = line.trim() ? (JSON.parse(line) as { Actor?: { Attributes?: { exitCode?: string } } }).Actor?.Attributes?.exitCode : undefined;
      if (code !== undefined && /^\d+$/.test(code)) return Number(code);
    }
    return undefined;
  }

  private markGone(): void {
    // The attach connection is the container's life line: once it is gone, so is the container.
    this.gone ??= this.released ? `executor ${this.entry.id} was released` : `the container of executor ${this.entry.id} stopped`;
    if (!this.released) this.attach?.destroy();
  }

  get id(): string | undefined {
    return this.container?.id;
  }

  /** An agent ready for a command: an idle one, else a new `docker exec`. */
  async acquire(): Promise<Agent> {
    // A container found gone on the way (its connection's end noticed late) is made anew once.
    try {
      return await this.acquireOnce();
    } catch (e) {
      if (!(e instanceof ExecError && e.kind === "GONE") || this.released) throw e;
      return this.acquireOnce();
    }
  }

  private async acquireOnce(): Promise<Agent> {
    const container = await this.ensure();
    if (this.gone) throw new ExecError("GONE", this.gone);
    for (;;) {
      const agent = this.idle.pop();
      if (!agent) break;
      if (agent.reusable) return agent;
      this.drop(agent);
    }
    let agent: Agent;
    try {
      agent = await Agent.start(container, (what, call) => this.slowDeadline(what, call));
    } catch (e) {
      throw this.execStartError(e);
    }
    if (this.gone) {
      agent.retire();
      throw new ExecError("GONE", this.gone);
    }
    this.agents.add(agent);
    if (this.released) {
      this.drop(agent);
      throw new ExecError("CLOSED", `executor ${this.entry.id} was released`);
    }
    return agent;
  }

  /** Why a `docker exec` could not start: the container went (GONE), or the daemon's own error. */
  private execStartError(e: unknown): ExecError {
    const status = statusOf(e);
    if (status === 409 || status === 404 || /stopped state|is not running|no such container/i.test(daemonMessage(e))) {
      this.markGone();
      return new ExecError("GONE", this.gone!);
    }
    return dockerError(e, this.hostUrl, "starting a command (docker exec)");
  }

  /**
   * A `docker exec` of its own on a terminal (Tty: the daemon gives one raw stream, no
   * frame headers), started and hijacked; `argv` runs as the exec's process.
   */
  async startTty(argv: string[], rows: number, cols: number): Promise<{ exec: Dockerode.Exec; socket: Duplex }> {
    const container = await this.ensure();
    if (this.gone) throw new ExecError("GONE", this.gone);
    const short = container.id.slice(0, 12);
    let exec: Dockerode.Exec;
    try {
      exec = await this.slowDeadline(`POST /containers/${short}/exec`, (abortSignal) =>
        container.exec({ Cmd: argv, AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: true, ConsoleSize: [rows, cols], abortSignal } as Dockerode.ExecCreateOptions),
      );
    } catch (e) {
      throw this.execStartError(e);
    }
    // ConsoleSize on start sizes the terminal before the command runs (API 1.42+; older daemons get it from resize()).
    try {
      const socket = (await this.slowDeadline(`POST /exec/${exec.id.slice(0, 12)}/start`, (abortSignal) =>
        exec.start({ hijack: true, stdin: true, Tty: true, ConsoleSize: [rows, cols], abortSignal } as Dockerode.ExecStartOptions),
      )) as unknown as Duplex;
      return { exec, socket };
    } catch (e) {
      if (e instanceof ExecError) throw e;
      throw dockerError(e, this.hostUrl, "starting a command (docker exec start)");
    }
  }

  /** Hand an agent back after its command ended. */
  giveBack(agent: Agent, reuse: boolean): void {
    if (reuse && agent.reusable && !this.released && this.idle.length < MAX_IDLE_AGENTS) this.idle.push(agent);
    else this.drop(agent);
  }

  private drop(agent: Agent): void {
    agent.retire();
    this.agents.delete(agent);
  }

  /** kill -SIGNO TARGET inside the container (TARGET = -PGID for a group); resolves with kill's status. */
  signal(signo: number, target: number): Promise<number> {
    const socket = this.attach;
    if (!socket || this.gone || socket.destroyed) return Promise.resolve(1);
    if (!Number.isInteger(target) || Math.abs(target) < 2) return Promise.reject(new ExecError("INTERNAL", `refusing to signal ${target}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.replies.indexOf(answer);
        if (i >= 0) this.replies[i] = () => {}; // keep the order of the answers still to come
        reject(noAnswer(`docker at ${this.hostUrl}`, `the signal relay (kill -${signo} ${target})`, this.timeoutMs));
      }, this.timeoutMs);
      const answer = (status: number) => {
        clearTimeout(timer);
        resolve(status);
      };
      this.replies.push(answer);
      socket.write(`${signo} ${target}\n`);
    });
  }

  private onInitOutput(stream: number, piece: Buffer): undefined {
    if (stream !== 1) return undefined;
    this.replyLine += piece.toString("latin1");
    let nl: number;
    while ((nl = this.replyLine.indexOf("\n")) >= 0) {
      const line = this.replyLine.slice(0, nl);
      this.replyLine = this.replyLine.slice(nl + 1);
      this.replies.shift()?.(Number(line));
    }
    return undefined;
  }

  private onInitGone(): void {
    this.markGone();
    const waiting = this.replies;
    this.replies = [];
    for (const resolve of waiting) resolve(1);
  }

  /** Did the container's cgroup run out of memory (an "oom" event) since `sinceMs`? */
  async oomSince(sinceMs: number): Promise<boolean> {
    const id = this.container?.id;
    if (!id) return false;
    try {
      const stream = (await this.deadline("GET /events", (abortSignal) => this.docker.getEvents({
        abortSignal,
        // The daemon takes fractional seconds. `until` slightly ahead: the oom event may be
        // recorded just after the exit was seen; the daemon holds the answer until then.
        since: ((sinceMs - 1000) / 1000).toFixed(3) as unknown as number,
        until: ((Date.now() + 300) / 1000).toFixed(3) as unknown as number,
        filters: JSON.stringify({ container: [id], event: ["oom"] }),
      } as object))) as unknown as NodeJS.ReadableStream;
      let text = "";
      stream.on("data", (b: Buffer) => (text += b.toString()));
      await new Promise<void>((resolve) => {
        stream.on("end", () => resolve());
        stream.on("error", () => resolve());
      });
      return text.includes('"oom"');
    } catch {
      return false;
    }
  }

  /**
   * Stop everything: agents, the init, the container. With auto_remove (the default) the
   * container is removed; with auto_remove: false it is stopped and kept.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const ready = this.ready;
    if (!ready) return;
    await ready.catch(() => {});
    await this.remove();
  }

  private async remove(): Promise<void> {
    for (const agent of this.agents) agent.retire();
    this.agents.clear();
    this.idle = [];
    const container = this.container;
    if (!container) return;
    if (this.entry.auto_remove === false) {
      // Ending the attach connection ends the init: the container stops (and everything in
      // it dies) but is kept, as asked.
      this.attach?.end();
      const stopped = await within(container.wait({ condition: "not-running" }), 3000);
      if (!stopped) await this.slowDeadline("POST /containers/kill", (abortSignal) => container.kill({ abortSignal })).catch(() => {});
      this.attach?.destroy();
      return;
    }
    try {
      await this.slowDeadline(`DELETE /containers/${container.id.slice(0, 12)}`, (abortSignal) => container.remove({ force: true, v: true, abortSignal }));
    } catch (e) {
      // 409: AutoRemove is already removing it (the init ended); 404: already gone.
      const status = statusOf(e);
      if (status === 409) await within(container.wait({ condition: "removed" }), 10_000);
      else if (status !== 404) throw dockerError(e, this.hostUrl, `removing container ${container.id.slice(0, 12)}`);
    } finally {
      this.attach?.destroy();
    }
  }
}

export function imageMissing(entry: DockerEntry, hostUrl: string): ExecError {
  return new ExecError(
    "NOT_FOUND",
    `image ${entry.image} is not present on the docker daemon at ${hostUrl}; moonexec never pulls on its own: run \`docker pull ${entry.image}\` or set \`pull: true\` in ${entry.where}`,
  );
}

export function noShell(entry: DockerEntry, detail: string): ExecError {
  return new ExecError("NOT_FOUND", `image ${entry.image} has no usable sh: the docker backend runs its init and every command through sh (the image needs sh, cat and mkfifo): ${detail}`);
}

/** true when `p` settles within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true as const, () => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
