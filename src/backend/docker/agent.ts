/**
 * An agent: one long-lived `docker exec` running AGENT_SCRIPT, which runs commands one at
 * a time inside the container (see agent-script.ts). Reusing it saves the ~100+ ms that
 * each `docker exec` costs (runc setting up a process in the container's namespaces).
 *
 * An agent is handed back for reuse only when its last command left nothing behind and
 * never touched stdin (bytes a command did not read would otherwise stay in the agent's
 * input). Otherwise it is retired: its connection is closed and the agent exits.
 */
import { randomBytes } from "node:crypto";
import type { Duplex } from "node:stream";
import type Dockerode from "dockerode";
import { ExecError } from "../../errors.js";
import { AGENT_SCRIPT, commandCode } from "./agent-script.js";
import { AgentRun } from "./agent-run.js";
import { FrameDemux } from "./demux.js";

export class Agent {
  private readonly key = randomBytes(16).toString("hex");
  private run: AgentRun | undefined;
  private closed = false;
  /** stdin was written or closed during the current run: the agent cannot be reused. */
  private tainted = false;
  private stdinEnded = false;

  private constructor(private readonly socket: Duplex) {
    const demux = new FrameDemux(
      (stream, piece) => {
        const run = this.run;
        if (!run) return undefined;
        return stream === 2 ? run.onStderr(piece) : run.onStdout(piece);
      },
      (error) => this.lost(error),
    );
    // A normal end reaches lost() through the demux once every byte was delivered;
    // a connection that closes without an end (reset, destroy) is lost at once.
    let ended = false;
    socket.on("end", () => (ended = true));
    socket.on("error", (e) => this.lost(e));
    socket.on("close", () => {
      if (!ended) this.lost();
    });
    socket.pipe(demux);
    socket.write(`${this.key}\n`);
  }

  /** Start an agent process in the container. */
  static async start(container: Dockerode.Container, deadline: <T>(what: string, call: (signal: AbortSignal) => Promise<T>) => Promise<T>): Promise<Agent> {
    const exec = await deadline(`POST /containers/${container.id.slice(0, 12)}/exec`, (abortSignal) =>
      container.exec({
        Cmd: ["sh", "-c", AGENT_SCRIPT],
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        abortSignal,
      } as Dockerode.ExecCreateOptions),
    );
    const socket = (await deadline(`POST /exec/${exec.id.slice(0, 12)}/start`, (abortSignal) =>
      exec.start({ hijack: true, stdin: true, Tty: false, abortSignal } as Dockerode.ExecStartOptions),
    )) as unknown as Duplex;
    return new Agent(socket);
  }

  get busy(): boolean {
    return this.run !== undefined && !this.run.isSettled;
  }

  get reusable(): boolean {
    return !this.closed && !this.tainted && !this.busy;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Start a command; the returned run reports its header and end. */
  begin(argv: string[], env: Record<string, string>, cwd: string | undefined): AgentRun {
    if (this.closed) throw new ExecError("INTERNAL", "docker agent connection is closed");
    if (this.busy) throw new ExecError("INTERNAL", "docker agent is busy");
    const run = new AgentRun();
    run.argv0 = argv[0] ?? run.argv0;
    this.run = run;
    this.tainted = false;
    this.socket.write(`${this.key} ${run.nonce} ${commandCode(argv, env, cwd)}\n`);
    return run;
  }

  writeStdin(data: Uint8Array): Promise<void> {
    this.tainted = true;
    if (this.stdinEnded || this.closed) return Promise.reject(new ExecError("CLOSED", "stdin is closed"));
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(new ExecError("CLOSED", `stdin: ${err.message}`)) : resolve()));
    });
  }

  /** EOF on the command's stdin: ends the agent's input, so the agent exits after this command. */
  closeStdin(): void {
    this.tainted = true;
    if (this.stdinEnded || this.closed) return;
    this.stdinEnded = true;
    this.socket.end();
  }

  /** Close the connection; the agent process gets EOF/EPIPE and exits. */
  retire(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.run?.fail(new ExecError("CLOSED", "docker agent connection closed"));
  }

  /** The daemon stopped answering (heartbeat): give up on this connection with `error`. */
  lose(error: Error): void {
    this.lost(error);
  }

  private lost(error?: Error): void {
    const wasClosed = this.closed;
    this.closed = true;
    if (!wasClosed) this.socket.destroy();
    this.run?.fail(error ?? new ExecError("UNAVAILABLE", "connection to the docker agent ended"));
  }
}
