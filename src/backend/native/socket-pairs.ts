/**
 * Connected Unix socket pairs: one end becomes a command's stdout, the other is read by a
 * RecyclingReader. Node gives a child's own stdio pipe only 'data' events (a fresh buffer per
 * read); a socket we connect ourselves can be read with `onread` into buffers we reuse.
 *
 * The listening socket lives in a fresh directory only this user can enter (mkdtemp makes it
 * 0700), so no one else can connect and be taken for our end. Pairs are made one at a time,
 * so the connection accepted next is the one just made.
 */
import net from "node:net";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RecyclingReader } from "./recycling-reader.js";

export interface StdoutPair {
  /** Reads our end. */
  reader: RecyclingReader;
  /** The end to hand the child; ours to close once the child has it. */
  theirs: net.Socket;
}

export class SocketPairs {
  private accepts: Array<(s: net.Socket) => void> = [];
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private broken = false;

  private constructor(
    private readonly server: net.Server,
    private readonly dir: string,
  ) {
    server.on("connection", (s) => (this.accepts.shift() ?? ((x: net.Socket) => x.destroy()))(s));
  }

  /** Undefined where Unix sockets cannot be used (Windows) or listening failed. */
  static async open(): Promise<SocketPairs | undefined> {
    if (process.platform === "win32") return undefined;
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), "moonexec-"));
      const server = net.createServer({ pauseOnConnect: true }); // the child's end is never read here
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(join(dir!, "s"), resolve);
      });
      server.unref();
      return new SocketPairs(server, dir);
    } catch {
      if (dir) rmSync(dir, { recursive: true, force: true });
      return undefined;
    }
  }

  /** A new pair; undefined once closed, or for good once making one failed (pipes then). */
  take(): Promise<StdoutPair | undefined> {
    const pair = this.queue.then(() => (this.closed || this.broken ? undefined : this.make()));
    this.queue = pair.catch(() => {
      this.broken = true;
    });
    return pair.catch(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    this.accepts = [];
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async make(): Promise<StdoutPair> {
    const reader = new RecyclingReader();
    const accepted = new Promise<net.Socket>((resolve) => this.accepts.push(resolve));
    const ours = net.connect({ path: join(this.dir, "s"), onread: reader.onread });
    await once(ours, "connect"); // rejects on 'error'
    const theirs = await Promise.race([accepted, new Promise<never>((_, reject) => ours.once("close", () => reject(new Error("closed"))))]);
    reader.bind(ours);
    theirs.on("error", () => {}); // only the child uses it
    return { reader, theirs };
  }
}
