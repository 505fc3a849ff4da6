/**
 * The connections of one exec.ssh executor. Sessions (commands, SFTP, the watcher) are
 * multiplexed on one connection up to the server's MaxSessions; past it another
 * connection opens. The limit starts at max_sessions (OpenSSH's default 10) and drops to
 * what the server really allows when it refuses a session. A connection that closes
 * leaves the pool at once; the next session opens a new one.
 *
 * Each connection also keeps SPARES sessions open ahead of need, each running the spare stub
 * of wrapper.ts: a command takes one and sends its line on stdin, so the server's work of
 * starting a session (fork, login shell) is done while the previous command ran.
 */
import type { ClientChannel, SFTPWrapper } from "ssh2";
import { ExecError } from "../../errors.js";
import { connect, label, type Client, type ConnectSettings } from "./connect.js";
import { spareLine, watcherLine } from "./wrapper.js";

/**
 * Refusals of a session while others are open on the connection: the server's limit.
 * OpenSSH past MaxSessions answers 2 (SSH_OPEN_CONNECT_FAILED, "open failed"); others use
 * 1 (administratively prohibited) or 4 (resource shortage).
 */
const SESSION_LIMIT_REASONS = new Set([1, 2, 4]);

/**
 * Spare sessions per connection. Starting a session costs the server a fork and a login
 * shell, more than a short command's own run; two in flight keep a sequential loop from
 * waiting on the next one (figures in docs/performance.md).
 */
export const SPARES = 2;

export class SshConnection {
  /** Sessions open or opening on this connection, the watcher included. */
  active = 0;
  limit: number;
  /** Set (synchronously, before ssh2 closes the channels) when the connection has gone. */
  lost = false;
  lostReason = "connection closed";
  private watcher: ClientChannel | undefined;
  private acks: Array<() => void> = [];
  private watcherBuf = "";

  constructor(
    readonly client: Client,
    private readonly jumpClient: Client | undefined,
    limit: number,
    readonly name: string,
  ) {
    this.limit = limit;
    client.on("error", (e: Error) => (this.lostReason = e.message));
    client.once("close", () => {
      this.lost = true;
      for (const ack of this.acks.splice(0)) ack();
      for (const w of this.spareWaiters.splice(0)) w(undefined);
    });
  }

  /** Spare sessions ready for a command, oldest first; each holds a slot of `active`. */
  private readonly spares: ClientChannel[] = [];
  /** Spares whose exec request has not been answered yet. */
  private sparesOpening = 0;
  /** Callers waiting for a spare being opened. */
  private spareWaiters: Array<(ch: ClientChannel | undefined) => void> = [];

  /** Open spares in the background up to SPARES, while the connection has room. */
  refillSpares(): void {
    while (!this.lost && this.spares.length + this.sparesOpening < SPARES && this.active < this.limit) {
      this.active++;
      this.sparesOpening++;
      this.client.exec(spareLine(), (err, ch) => {
        this.sparesOpening--;
        if (err) {
          this.active--;
          const reason = (err as { reason?: number }).reason;
          // Refused past the server's MaxSessions: learn the limit as for commands.
          if (reason !== undefined && SESSION_LIMIT_REASONS.has(reason) && this.active >= 1) this.limit = Math.max(1, this.active);
          this.wakeSpareWaiters();
          return;
        }
        ch.on("error", () => {});
        // Unused when it closes (the stub died, the connection went): its slot is free again.
        ch.once("close", () => {
          const i = this.spares.indexOf(ch);
          if (i >= 0) {
            this.spares.splice(i, 1);
            this.active--;
          }
        });
        const waiter = this.spareWaiters.shift();
        if (waiter) waiter(ch);
        else this.spares.push(ch);
        this.wakeSpareWaiters();
      });
    }
  }

  private wakeSpareWaiters(): void {
    // Nobody opening any more: waiters go their own way.
    if (this.sparesOpening === 0) for (const w of this.spareWaiters.splice(0)) w(undefined);
  }

  /**
   * A spare session for one command (its slot goes with it: the command's channel close
   * ends it), waiting for one being opened; undefined when none is ready or coming.
   */
  takeSpare(): Promise<ClientChannel | undefined> | undefined {
    if (this.lost) return undefined;
    const ch = this.spares.shift();
    if (ch) {
      this.refillSpares();
      return Promise.resolve(ch);
    }
    if (this.sparesOpening <= this.spareWaiters.length) return undefined;
    return new Promise((resolve) => {
      this.spareWaiters.push((got) => {
        this.refillSpares();
        resolve(got);
      });
    });
  }

  /** A session on this connection closed. */
  sessionEnded(): void {
    this.active--;
  }

  /** Start the watcher session (see wrapper.ts); without it commands could outlive us. */
  async startWatcher(): Promise<void> {
    const ch = await this.execRaw(watcherLine());
    this.watcher = ch;
    ch.on("error", () => {});
    ch.stderr.resume();
    ch.on("data", (d: Buffer) => {
      this.watcherBuf += d.toString("latin1");
      let nl;
      while ((nl = this.watcherBuf.indexOf("\n")) >= 0) {
        this.watcherBuf = this.watcherBuf.slice(nl + 1);
        this.acks.shift()?.();
      }
    });
    ch.once("close", () => {
      this.watcher = undefined;
      for (const ack of this.acks.splice(0)) ack();
    });
  }

  /** Tell the watcher a line; false when it is gone. */
  tell(line: string): boolean {
    if (!this.watcher || this.lost) return false;
    this.watcher.write(line + "\n");
    return true;
  }

  /**
   * Signal a target through the watcher; resolves once sent (false: the watcher is gone).
   * `ifWatched`: only while the watcher still lists it (for commands that have ended).
   */
  signal(signo: number, target: string, ifWatched = false): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.tell(`${ifWatched ? "K" : "k"} ${signo} ${target}`)) return resolve(false);
      this.acks.push(() => resolve(true));
    });
  }

  /** One exec session, counted against the limit by the caller. */
  execRaw(line: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(line, (err, ch) => (err ? reject(err) : resolve(ch)));
    });
  }

  sftpRaw(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      this.client.sftp((err, s) => (err ? reject(err) : resolve(s)));
    });
  }

  close(): void {
    this.lost = true;
    this.client.end();
    this.jumpClient?.end();
  }
}

export class SshPool {
  private readonly conns: SshConnection[] = [];
  private connecting: Promise<SshConnection> | undefined;
  private closed = false;

  constructor(
    private readonly settings: ConnectSettings,
    private readonly maxSessions: number,
  ) {}

  get name(): string {
    return label(this.settings.target);
  }

  /**
   * Open a session with `open` on a connection that has room, learning the server's limit
   * from refusals. The session counts against the connection until `open`'s session calls
   * conn.sessionEnded() (when its channel closes).
   */
  async session<T>(open: (c: SshConnection) => Promise<T>): Promise<{ conn: SshConnection; value: T }> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.room();
      try {
        return { conn, value: await open(conn) };
      } catch (e) {
        conn.sessionEnded();
        const reason = (e as { reason?: number }).reason;
        if (reason !== undefined && SESSION_LIMIT_REASONS.has(reason) && conn.active >= 1 && attempt < 64) {
          // The server's MaxSessions is what is open now: use another connection past it.
          conn.limit = Math.max(1, conn.active);
          continue;
        }
        if (e instanceof ExecError) throw e;
        if (conn.lost) throw new ExecError("UNAVAILABLE", `ssh ${this.name}: connection lost (${conn.lostReason})`);
        throw new ExecError("UNAVAILABLE", `ssh ${this.name}: cannot open a session: ${(e as Error).message}`);
      }
    }
  }

  /** A spare session of a live connection (see SshConnection.takeSpare), or undefined. */
  async takeSpare(): Promise<{ conn: SshConnection; ch: ClientChannel } | undefined> {
    if (this.closed) return undefined;
    for (const conn of this.conns) {
      const pending = conn.takeSpare();
      if (!pending) continue;
      const ch = await pending;
      if (ch) return { conn, ch };
    }
    return undefined;
  }

  /** Open the first connection now (open() fails early on a bad host, key or host key). */
  async warm(): Promise<void> {
    (await this.room()).sessionEnded();
  }

  /**
   * A live connection below its limit, with one session reserved on it (taken in the same
   * tick as the check, so parallel callers cannot overfill it); opens one when none has room.
   */
  private async room(): Promise<SshConnection> {
    for (;;) {
      if (this.closed) throw new ExecError("CLOSED", `ssh ${this.name}: executor was released`);
      for (let i = this.conns.length - 1; i >= 0; i--) if (this.conns[i]!.lost) this.conns.splice(i, 1);
      const free = this.conns.find((c) => c.active < c.limit);
      if (free) {
        free.active++;
        return free;
      }
      // One connection opening at a time: parallel spawns wait for it, then share it.
      if (!this.connecting) {
        this.connecting = this.open().finally(() => (this.connecting = undefined));
      }
      await this.connecting;
    }
  }

  private async open(): Promise<SshConnection> {
    const { client, jumpClient } = await connect(this.settings);
    const conn = new SshConnection(client, jumpClient, this.maxSessions, this.name);
    conn.active++; // the watcher
    try {
      await conn.startWatcher();
    } catch (e) {
      conn.close();
      throw new ExecError("UNAVAILABLE", `ssh ${this.name}: cannot start the session watcher: ${(e as Error).message}`);
    }
    if (this.closed) {
      conn.close();
      throw new ExecError("CLOSED", `ssh ${this.name}: executor was released`);
    }
    this.conns.push(conn);
    conn.refillSpares();
    return conn;
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns.splice(0)) c.close();
  }
}
