/**
 * stdout or stderr of an Incus exec as a Readable: binary frames are data, the first text
 * frame (empty) is the end of the stream; a connection that drops (often 1006, no close
 * frame) also ends it. Backpressure pauses the websocket, which stalls the server's pipe
 * and so the command, instead of buffering without bound. Filters (the wrapper's marker
 * and records, see wrapper.ts) take their bytes out on the way.
 */
import { Readable } from "node:stream";
import type WebSocket from "ws";
import type { RingReads } from "./ring-reads.js";

export interface StreamFilter {
  /** Bytes to pass on for this chunk (maybe fewer: held back or removed). */
  feed(chunk: Buffer): Buffer;
  /** The stream ended: bytes still held back. */
  end(): Buffer;
}

export class WsOutput extends Readable {
  private ended = false;
  private readonly filters: StreamFilter[] = [];
  /** With a ring (ring-reads.ts): the reader is done with the next `bytes` handed on (ByteSource). */
  readonly consumed?: (bytes: number) => void;

  constructor(
    private readonly ws: WebSocket,
    private readonly ring?: RingReads,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (ring) this.consumed = (bytes) => ring.consumed(bytes);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (this.ended) return;
      if (!isBinary) {
        this.finish();
        return;
      }
      let chunk = data;
      for (const f of this.filters) chunk = f.feed(chunk);
      if (chunk.length > 0 && !this.handOn(chunk)) ws.pause();
    });
    ws.on("close", () => this.finish());
  }

  /** Every chunk goes out here, so the ring counts what it hands on in order. */
  private handOn(chunk: Buffer): boolean {
    return this.push(this.ring ? this.ring.handOn(chunk) : chunk);
  }

  /** Add a filter after the existing ones (before data arrives for it). */
  addFilter(f: StreamFilter): void {
    this.filters.push(f);
  }

  /** True once the end-of-stream marker arrived or the connection closed. */
  get complete(): boolean {
    return this.ended;
  }

  override _read(): void {
    if (this.ws.isPaused) this.ws.resume();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    // Flush each filter's held bytes through the filters after it.
    let tail = Buffer.alloc(0);
    for (const f of this.filters) {
      const passed = tail.length ? f.feed(tail) : Buffer.alloc(0);
      tail = Buffer.concat([passed, f.end()]);
    }
    if (tail.length > 0) this.handOn(tail);
    this.push(null);
  }
}
