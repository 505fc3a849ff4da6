/**
 * A byte proxy between moonexec and a daemon (unix socket or TCP), for fault injection:
 * cut() resets every connection through it, silence() keeps them (and new ones) open but
 * forwards nothing, restore() ends the silence (dropping the silenced connections) so new
 * connections work again. Loopback and local sockets only.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Upstream = { path: string } | { host: string; port: number };

export class FaultProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private silent = false;
  /** Bytes passed from the daemon to the client. */
  downBytes = 0;
  readonly address: Promise<string>;
  private dir: string | undefined;

  constructor(upstream: Upstream, listen: "unix" | "tcp") {
    this.server = createServer((client) => this.accept(client, upstream));
    if (listen === "unix") {
      this.dir = mkdtempSync(join(tmpdir(), "mx-proxy-"));
      const path = join(this.dir, "proxy.sock");
      this.address = new Promise((resolve) => this.server.listen(path, () => resolve(path)));
    } else {
      this.address = new Promise((resolve) =>
        this.server.listen(0, "127.0.0.1", () => {
          const a = this.server.address();
          resolve(typeof a === "object" && a ? String(a.port) : "");
        }),
      );
    }
  }

  private accept(client: Socket, upstream: Upstream): void {
    const daemon = "path" in upstream ? createConnection(upstream.path) : createConnection(upstream.port, upstream.host);
    const pair: [Socket, Socket] = [client, daemon];
    this.pairs.add(pair);
    const drop = () => {
      this.pairs.delete(pair);
      client.destroy();
      daemon.destroy();
    };
    client.on("error", drop).on("close", drop);
    daemon.on("error", drop).on("close", drop);
    client.on("data", (b) => {
      if (!this.silent && !daemon.write(b)) client.pause();
    });
    daemon.on("drain", () => client.resume());
    daemon.on("data", (b) => {
      if (this.silent) return;
      this.downBytes += b.length;
      if (!client.write(b)) daemon.pause();
    });
    client.on("drain", () => daemon.resume());
    client.on("end", () => daemon.end());
    daemon.on("end", () => client.end());
  }

  /** Reset every open connection (as a crashed daemon or a broken network would). */
  cut(): void {
    for (const [a, b] of this.pairs) {
      // A TCP client gets a reset; a unix socket has none: it is closed under the client.
      if (a.remoteAddress !== undefined) a.resetAndDestroy();
      else a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  /** Stop forwarding: connections stay open, nothing passes (a hung daemon). */
  silence(): void {
    this.silent = true;
  }

  /** Forward again; the connections that were silenced are dropped. */
  restore(): void {
    this.silent = false;
    this.cut();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((r) => this.server.close(r));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
