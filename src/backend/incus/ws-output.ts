/**
 * stdout or stderr of an Incus exec as a Readable: binary frames are data, the first text
 * frame (empty) is the end of the stream. A connection that drops (often 1006, no close
 * frame) before it ends the stream as a loss (`failure`, see ByteSource), and so does an
 * end the command's `judge` does not accept (the wrapper's end record missing). Backpressure pauses the websocket, which stalls the server's pipe
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

/** How the output stream ended: the server's end frame, or the connection closing. */
export type EndHow = "frame" | "closed";

export class WsOutput extends Readable {
  private ended = false;
  /** Set when the stream ends without the end of the command's output. */
  failure: Error | undefined;
  /**
   * Decides whether an end is the end of the output: undefined = it is, else the error (or
   * a promise of it: the end waits for the verdict). Without a judge only the end frame is.
   */
  judge: ((how: EndHow) => Error | undefined | Promise<Error | undefined>) | undefined;
  /** Bytes came in (for the heartbeat). */
  onActivity: (() => void) | undefined;
  private readonly filters: StreamFilter[] = [];
  /** Streams that end when this one has ended (endAfter). */
  private readonly followers: WsOutput[] = [];
  /** The end (push(null)) happened; `ended` is set earlier, while the verdict may still be awaited. */
  private over = false;
  /** With a ring (ring-reads.ts): the reader is done with the next `bytes` handed on (ByteSource). */
  readonly consumed?: (bytes: number) => void;

  /** `ws` undefined: a stream with no socket of its own (stderr of a terminal), ended by endAfter(). */
  constructor(
    private readonly ws: WebSocket | undefined,
    private readonly ring?: RingReads,
  ) {
    super({ highWaterMark: 256 * 1024 });
    if (ring) this.consumed = (bytes) => ring.consumed(bytes);
    if (!ws) return;
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      this.onActivity?.();
      if (this.ended) return;
      if (!isBinary) {
        this.finish("frame");
        return;
      }
      let chunk = data;
      for (const f of this.filters) chunk = f.feed(chunk);
      if (chunk.length > 0 && !this.handOn(chunk)) ws.pause();
    });
    ws.on("close", () => this.finish("closed"));
  }

  /** End the stream after what came, as a loss: readers get `error` instead of EOF. */
  fail(error: Error): void {
    this.finish("closed", error);
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
    if (this.ws?.isPaused) this.ws.resume();
  }

  /** End (empty) when `other` ends, as it ends: a loss there is a loss here. */
  endAfter(other: WsOutput): void {
    if (other.over) this.finish("frame", other.failure);
    else other.followers.push(this);
  }

  private finish(how: EndHow, error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    // Flush each filter's held bytes through the filters after it.
    let tail = Buffer.alloc(0);
    for (const f of this.filters) {
      const passed = tail.length ? f.feed(tail) : Buffer.alloc(0);
      tail = Buffer.concat([passed, f.end()]);
    }
    if (tail.length > 0) this.handOn(tail);
    const verdict = error ?? (this.judge ? this.judge(how) : how === "frame" ? undefined : new Error("the connection to Incus closed before the end of the output"));
    const end = (failure: Error | undefined) => {
      this.failure ??= failure;
      this.push(null);
      this.over = true;
      for (const f of this.followers) f.finish("frame", this.failure);
    };
    if (verdict instanceof Promise) void verdict.then(end, (e: Error) => end(e));
    else end(verdict);
  }
}
