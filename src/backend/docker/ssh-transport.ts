/**
 * ssh:// docker hosts: HTTP to the remote daemon through `docker system dial-stdio` (the
 * docker CLI's own ssh transport: the remote docker CLI connects to its daemon and relays
 * stdin/stdout), one exec channel per HTTP connection. Unlike docker-modem's ssh agent,
 * which logs in anew for every request, one SSH connection (exec.ssh's connect code, host
 * keys checked the same way) carries the channels up to the server's session limit, and
 * keep-alive reuses idle channels for the next request.
 *
 * With `remote_socket`, a channel is instead forwarded straight to the daemon's unix socket
 * on the remote (OpenSSH's direct-streamlocal, as `ssh -L x:/var/run/docker.sock`): no
 * remote process per connection and no docker CLI needed there.
 */
import { Agent } from "node:http";
import type { Duplex } from "node:stream";
import type { ClientChannel } from "ssh2";
import { ExecError } from "../../errors.js";
import { connect, label, type Client, type ConnectSettings } from "../ssh/connect.js";

/** What the remote runs per channel; stdin/stdout become the daemon connection. */
export const DIAL_COMMAND = "docker system dial-stdio";
/** OpenSSH's default MaxSessions: channels per connection before another connection opens. */
const DEFAULT_CHANNELS = 10;
/** Channel-open refusals that mean "no more sessions on this connection" (see ssh/pool.ts). */
const SESSION_LIMIT_REASONS = new Set([1, 2, 4]);
/** Enough of the remote's stderr to say why dial-stdio failed. */
const STDERR_KEEP = 2048;

interface Conn {
  client: Client;
  jumpClient?: Client;
  active: number;
  limit: number;
  lost: boolean;
}

export class SshDockerTransport {
  readonly agent: Agent;
  /** SSH connections opened so far (for tests and docs: requests do not log in again). */
  logins = 0;
  /** Channels (dial-stdio or forwarded) opened so far: one per HTTP connection. */
  channels = 0;
  private readonly conns: Conn[] = [];
  private connecting: Promise<Conn> | undefined;
  private closed = false;
  readonly name: string;

  /** `remoteSocket`: forward channels to this socket path instead of running dial-stdio. */
  constructor(
    private readonly settings: ConnectSettings,
    private readonly remoteSocket?: string,
  ) {
    this.name = label(settings.target);
    const agent = new Agent({ keepAlive: true });
    // Async form: Node's Agent waits for the callback when createConnection returns nothing.
    (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, done: (err: Error | null, s?: Duplex) => void) => {
      this.channel().then(
        (ch) => done(null, ch),
        (e: Error) => done(e),
      );
      return undefined;
    };
    this.agent = agent;
  }

  /** Log in now, so a bad host, key or host key fails exec.get() with the reason. */
  async warm(): Promise<void> {
    await this.room().then((c) => c.active--);
  }

  private async room(): Promise<Conn> {
    for (;;) {
      if (this.closed) throw new ExecError("CLOSED", `docker over ssh ${this.name}: executor was released`);
      for (let i = this.conns.length - 1; i >= 0; i--) if (this.conns[i]!.lost) this.conns.splice(i, 1);
      const free = this.conns.find((c) => c.active < c.limit);
      if (free) {
        free.active++;
        return free;
      }
      this.connecting ??= this.open().finally(() => (this.connecting = undefined));
      await this.connecting;
    }
  }

  private async open(): Promise<Conn> {
    const { client, jumpClient } = await connect(this.settings);
    this.logins++;
    // MaxSessions counts sessions only: forwarded channels are not limited by it.
    const conn: Conn = { client, jumpClient, active: 0, limit: this.remoteSocket ? Infinity : DEFAULT_CHANNELS, lost: false };
    // Set before ssh2 ends the channels of a dead connection (it emits these first).
    const lost = () => (conn.lost = true);
    client.on("error", lost);
    client.once("end", lost);
    client.once("close", lost);
    if (this.closed) {
      client.end();
      throw new ExecError("CLOSED", `docker over ssh ${this.name}: executor was released`);
    }
    this.conns.push(conn);
    return conn;
  }

  /** A new channel to the daemon, dressed as the socket Node's HTTP client expects. */
  private async channel(): Promise<Duplex> {
    for (let attempt = 0; ; attempt++) {
      const conn = await this.room();
      let ch: ClientChannel;
      try {
        ch = await new Promise<ClientChannel>((res, rej) => {
          const done = (err: Error | undefined, c: ClientChannel) => (err ? rej(err) : res(c));
          if (this.remoteSocket) conn.client.openssh_forwardOutStreamLocal(this.remoteSocket, done);
          else conn.client.exec(DIAL_COMMAND, done);
        });
      } catch (e) {
        conn.active--;
        if (this.remoteSocket && !conn.lost) throw this.forwardRefused(e);
        const reason = (e as { reason?: number }).reason;
        if (reason !== undefined && SESSION_LIMIT_REASONS.has(reason) && conn.active >= 1 && attempt < 64) {
          conn.limit = Math.max(1, conn.active);
          continue;
        }
        if (conn.lost) throw new ExecError("UNAVAILABLE", `docker over ssh ${this.name}: connection lost`);
        throw new ExecError("UNAVAILABLE", `docker over ssh ${this.name}: cannot run '${DIAL_COMMAND}': ${(e as Error).message}`);
      }
      this.channels++;
      if (this.remoteSocket) ch.once("close", () => conn.active--);
      else this.dress(ch, conn);
      this.failOnLoss(ch, conn);
      return socketLike(ch);
    }
  }

  /** OpenSSH answers 1 when forwarding is off, 2 when the socket cannot be connected to. */
  private forwardRefused(e: unknown): ExecError {
    const reason = (e as { reason?: number }).reason;
    const what = `docker over ssh ${this.name}: cannot reach remote_socket ${this.remoteSocket}`;
    if (reason === 1) return new ExecError("PERMISSION_DENIED", `${what}: the server does not allow socket forwarding (AllowStreamLocalForwarding); leave remote_socket unset to use '${DIAL_COMMAND}'`);
    if (reason === 2) return new ExecError("UNAVAILABLE", `${what}: no daemon socket there, or ${this.settings.target.user} may not connect to it (${(e as Error).message})`);
    return new ExecError("UNAVAILABLE", `${what}: ${(e as Error).message}`);
  }

  /**
   * A dead connection ends its channels like a clean EOF (ssh2 pushes null): make that an
   * error, so a response or a command's output cut short is never taken for a complete one.
   */
  private failOnLoss(ch: ClientChannel, conn: Conn): void {
    const push = ch.push.bind(ch);
    ch.push = (chunk: unknown, encoding?: BufferEncoding) => {
      // Not after release (our own close), nor on a channel nobody listens to any more (an
      // unhandled 'error' would crash the host).
      if (chunk === null && conn.lost && !this.closed && ch.listenerCount("error") > 0) {
        ch.emit("error", new ExecError("UNAVAILABLE", `docker over ssh ${this.name}: SSH connection lost`));
        return false;
      }
      return push(chunk, encoding);
    };
  }

  /** dial-stdio's channel: its stderr and exit status explain a failure to reach the daemon. */
  private dress(ch: ClientChannel, conn: Conn): void {
    let stderr = "";
    let gotData = false;
    ch.stderr.on("data", (d: Buffer) => {
      if (stderr.length < STDERR_KEEP) stderr += d.toString("utf8");
    });
    // Noted without a 'data' listener, which would start the stream before HTTP reads it.
    // An EOF before any byte waits for the exit status: OpenSSH sends EOF first, and HTTP
    // would report it as a bare "socket hang up".
    // ssh2's Channel.destroy() takes no error: emit it, then close the channel.
    const fail = (msg: string): void => {
      if (ch.listenerCount("error") > 0) ch.emit("error", new ExecError("UNAVAILABLE", `docker over ssh ${this.name}: ${msg}`));
      ch.destroy();
    };
    let exited = false;
    let heldEnd = false;
    const push = ch.push.bind(ch);
    ch.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null) gotData = true;
      else if (!gotData && !exited) {
        heldEnd = true;
        return false;
      }
      return push(chunk, encoding);
    };
    ch.once("exit", (code: number | null) => {
      exited = true;
      // Nothing ever came: the remote could not reach its daemon (no docker CLI, no access
      // to the socket). Say so.
      if (code !== 0 && !gotData) {
        const why = stderr.trim() || `exit code ${code}`;
        fail(`'${DIAL_COMMAND}' failed on the remote: ${why}`);
      } else if (heldEnd) push(null);
    });
    ch.once("close", () => {
      conn.active--;
      if (heldEnd && !exited) fail(`'${DIAL_COMMAND}' ended without output or exit status`);
    });
  }

  close(): void {
    this.closed = true;
    this.agent.destroy();
    for (const c of this.conns.splice(0)) {
      c.lost = true;
      c.client.end();
      c.jumpClient?.end();
    }
  }
}

/** Socket methods the HTTP client and agent call; a channel has no such knobs. */
function socketLike(ch: ClientChannel): Duplex {
  const sock = ch as unknown as Record<string, unknown>;
  for (const m of ["setKeepAlive", "setNoDelay", "setTimeout", "ref", "unref"]) sock[m] ??= () => ch;
  return ch;
}
