/**
 * A command running over SSH: one exec session started through the wrapper of wrapper.ts.
 * Without a pty stdout and stderr stay apart and byte-exact; with one (CommandSpec.pty: the
 * session's pty request) the terminal merges them into stdout, the wrapper's marker included.
 *
 * Output ends normally only when the server sent EOF on the channel (it has sent every
 * byte); a channel that closes without it — the connection dropped — fails both streams
 * with an error instead of looking like a short output. The exit code is the session's
 * exit-status, or 128+N for an exit-signal.
 */
import { Readable } from "node:stream";
import type { ClientChannel } from "ssh2";
import { constants } from "node:os";
import { ExecError } from "../../errors.js";
import type { CommandSpec, ExitInfo, RunningCommand } from "../contract.js";
import { signalName } from "../../process/signals.js";
import { MarkerParser, type Marker } from "../incus/wrapper.js";
import type { SshConnection, SshPool } from "./pool.js";
import { commandLine, spareCommandLine } from "./wrapper.js";

const DISPOSE_WAIT_MS = 5000;
/** "\x04": the keyboard's EOF, what closing stdin means on a terminal. */
const EOT = Buffer.from([4]);
const SIGNALS = constants.signals as Record<string, number>;

/** stdout or stderr of the channel, ending only on the server's EOF (else failing). */
class ChannelOutput extends Readable {
  private parser: MarkerParser | undefined;
  private over = false;

  constructor(
    private readonly src: Readable,
    private readonly cmd: SshCommand,
    parser?: MarkerParser,
  ) {
    super({ highWaterMark: 256 * 1024 });
    this.parser = parser;
    // Errors reach the OutputStream that attaches later; none may go unhandled before that.
    this.on("error", () => {});
    src.on("data", (chunk: Buffer) => {
      const pass = this.parser ? this.parser.feed(chunk) : chunk;
      if (pass.length > 0 && !this.push(pass)) src.pause();
    });
    src.once("end", () => this.finish());
    src.once("close", () => this.finish());
  }

  override _read(): void {
    this.src.resume();
  }

  private finish(): void {
    if (this.over || this.destroyed) return;
    this.over = true;
    if (this.parser) {
      const rest = this.parser.end();
      if (rest.length) this.push(rest);
    }
    const lost = this.cmd.lossReason();
    if (lost) this.destroy(new ExecError("UNAVAILABLE", lost));
    else this.push(null);
  }
}

export class SshCommand implements RunningCommand {
  readonly stdout: ChannelOutput;
  readonly stderr: ChannelOutput;
  readonly exited: Promise<ExitInfo>;
  private marker: Marker | undefined;
  private readonly markerSeen: Promise<void>;
  private exit: { code?: number | null; signal?: string } | undefined;
  private eof = false;
  private channelClosed = false;
  private stdinClosed = false;
  private stderrBytes = 0;
  private done = false;
  private disposing: Promise<void> | undefined;
  private readonly what: string;

  /** Wires the channel synchronously (its exit-status may come in the same read as the exec reply). */
  constructor(
    private readonly conn: SshConnection,
    private readonly ch: ClientChannel,
    private readonly release: () => void,
    private readonly spec: CommandSpec,
  ) {
    this.what = `'${spec.argv[0]}' on ${conn.name}`;
    // ssh2 ends the readables both on EOF and when the channel closes; only the first is a
    // complete output. The state at push(null) tells them apart.
    const chan = ch as unknown as { incoming: { state: string }; push: (c: unknown, e?: unknown) => boolean };
    const push = chan.push.bind(ch);
    chan.push = (c, e) => {
      if (c === null && chan.incoming.state === "eof") this.eof = true;
      return push(c, e);
    };
    // Write errors after the channel closed surface through writeStdin's callback.
    ch.on("error", () => {});
    ch.on("exit", (code: number | null, signal?: string) => {
      this.exit ??= { code, signal };
    });
    let settleMarker!: () => void;
    this.markerSeen = new Promise<void>((r) => (settleMarker = r));
    const parser = new MarkerParser((m) => {
      this.marker = m;
      if (m.kind === "pid") this.conn.tell(`a ${this.target(m)}`);
      settleMarker();
    });
    ch.stderr.on("data", (c: Buffer) => (this.stderrBytes += c.length));
    this.stdout = new ChannelOutput(ch, this, spec.pty ? parser : undefined);
    this.stderr = new ChannelOutput(ch.stderr as Readable, this, spec.pty ? undefined : parser);
    const closed = new Promise<void>((r) =>
      ch.once("close", () => {
        this.channelClosed = true;
        this.release();
        settleMarker();
        r();
      }),
    );
    const ended = (s: Readable) => new Promise<void>((r) => (s.readableEnded || s.destroyed ? r() : (s.once("end", r), s.once("close", r), s.once("error", r))));
    this.exited = Promise.all([closed, ended(this.stdout), ended(this.stderr)]).then(() => {
      this.done = true;
      const m = this.marker;
      if (m?.kind === "pid") this.conn.tell(`x ${this.target(m)}`);
      return this.exitInfo();
    });
  }

  /** Why output is incomplete, or undefined when the server ended it properly. */
  lossReason(): string | undefined {
    if (this.eof) return undefined;
    if (this.conn.lost) return `${this.what}: connection lost (${this.conn.lostReason}); output may be incomplete`;
    if (this.disposing) return undefined; // we closed it: nobody reads any more
    return `${this.what}: the server closed the session before the end of output`;
  }

  private target(m: Extract<Marker, { kind: "pid" }>): string {
    return m.group ? `-${m.pid}` : String(m.pid);
  }

  private exitInfo(): ExitInfo {
    const x = this.exit;
    if (!x) {
      const why = this.lossReason() ?? `${this.what}: the session ended without an exit status`;
      return { code: -1, note: why };
    }
    if (x.signal) {
      const name = x.signal.startsWith("SIG") ? x.signal : `SIG${x.signal}`;
      const n = SIGNALS[name];
      return { code: n !== undefined ? 128 + n : -1, signal: n !== undefined ? (signalName(n) ?? name) : name };
    }
    return { code: x.code ?? -1 };
  }

  /** Resolves when the wrapper reported the pid; rejects (after cleaning up) when the command cannot start. */
  async started(): Promise<void> {
    await this.markerSeen;
    if (this.marker?.kind === "nocwd") {
      this.stdout.resume();
      this.stderr.resume();
      await this.dispose();
      throw new ExecError("NOT_FOUND", `work_dir ${this.spec.cwd} does not exist on ${this.conn.name}`);
    }
    if (!this.marker && this.conn.lost) {
      this.stdout.resume();
      this.stderr.resume();
      await this.dispose();
      throw new ExecError("UNAVAILABLE", `${this.what}: connection lost while starting (${this.conn.lostReason})`);
    }
  }

  /**
   * stderr ended empty: the wrapper, whose first act is to print its marker there, never ran,
   * so neither did the command.
   */
  diedUnstarted(): boolean {
    return (this.marker === undefined || this.marker.kind === "none") && this.stderrBytes === 0;
  }

  get pid(): number | undefined {
    return this.marker?.kind === "pid" ? this.marker.pid : undefined;
  }

  writeStdin(data: Uint8Array): Promise<void> {
    if (this.stdinClosed) return Promise.reject(new ExecError("CLOSED", "stdin is closed"));
    if (this.channelClosed || !this.ch.writable) return Promise.reject(new ExecError("CLOSED", "stdin is closed: the command has ended"));
    if (data.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.ch.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength), (err) => {
        if (err) reject(new ExecError("CLOSED", `stdin: ${err.message}`));
        else resolve();
      });
    });
  }

  async closeStdin(): Promise<void> {
    if (this.stdinClosed) return;
    // A terminal cannot be half-closed (sshd keeps the pty open): EOF is the keyboard's ^D.
    if (this.spec.pty) await this.writeStdin(EOT).catch(() => {});
    this.stdinClosed = true;
    if (!this.channelClosed && !this.spec.pty) this.ch.end();
  }

  /** The session's window-change request: sshd resizes the pty, the command gets SIGWINCH. */
  async resize(rows: number, cols: number): Promise<void> {
    if (this.channelClosed) return;
    this.ch.setWindow(rows, cols, 0, 0);
  }

  async signal(signo: number): Promise<void> {
    if (this.done || this.channelClosed) return;
    const m = this.marker;
    if (m?.kind === "pid" && (await this.conn.signal(signo, this.target(m)))) return;
    if (this.done || this.channelClosed) return;
    // No watcher (connection going) or no pid: the session's own signal request, which
    // servers may ignore.
    const name = signalName(signo);
    if (name && this.ch.signal(name.slice(3))) return;
    throw new ExecError("CLOSED", `cannot signal ${this.what}: its connection is closed`);
  }

  dispose(): Promise<void> {
    this.disposing ??= this.teardown();
    return this.disposing;
  }

  private async teardown(): Promise<void> {
    const m = this.marker;
    const alive = !this.done && !this.channelClosed;
    // Also after a normal exit: background children of the command may still run (then
    // the watcher still lists the group; an empty group's pid may belong to another by now).
    if (m?.kind === "pid" && !this.conn.lost) {
      await this.conn.signal(9, this.target(m), this.done);
      this.conn.tell(`d ${this.target(m)}`);
    }
    if (alive) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.exited, new Promise((r) => (timer = setTimeout(r, DISPOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    if (!this.channelClosed) this.ch.close();
    if (!this.stdout.readableEnded) this.stdout.destroy();
    if (!this.stderr.readableEnded) this.stderr.destroy();
  }
}

/** Start `spec` on a connection of the pool (a spare session when one is ready); resolves once it runs. */
export async function startSshCommand(pool: SshPool, spec: CommandSpec): Promise<SshCommand> {
  // Spares run without a pty: a terminal command gets a session of its own.
  for (let spare = spec.pty ? undefined : await pool.takeSpare(); spare; spare = await pool.takeSpare()) {
    const { conn, ch } = spare;
    const cmd = new SshCommand(conn, ch, () => conn.sessionEnded(), spec);
    ch.write(spareCommandLine(spec.argv, spec.cwd, spec.env));
    await cmd.started();
    if (!cmd.diedUnstarted()) return cmd;
    // The spare was gone before our line ran (killed on the server, its close still on the
    // way): nothing of the command ran, so it may start elsewhere.
    await cmd.dispose();
  }
  const pty = spec.pty;
  // sshd sets TERM from the pty request, but the wrapper's env -i drops it: pass it on.
  const env = pty && !("TERM" in spec.env) ? { ...spec.env, TERM: pty.term } : spec.env;
  const line = commandLine(spec.argv, spec.cwd, env);
  const options = pty ? { pty: { term: pty.term, rows: pty.rows, cols: pty.cols, width: 0, height: 0 } } : {};
  const { conn, value: cmd } = await pool.session(
    (conn) =>
      new Promise<SshCommand>((resolve, reject) => {
        conn.client.exec(line, options, (err, ch) => {
          if (err) return reject(err);
          // The release runs when the channel closes (see SshCommand).
          resolve(new SshCommand(conn, ch, () => conn.sessionEnded(), spec));
        });
      }),
  );
  // No spare was ready (spares died, or all were taken): have some for the next ones.
  conn.refillSpares();
  await cmd.started();
  return cmd;
}
