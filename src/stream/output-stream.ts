/**
 * One output stream of a command (stdout or stderr) as the script reads it.
 *
 * It exists before the command starts; the backend's source is attached later.
 * Flow control: while the script is busy (not waiting on this command), a stream that
 * holds more than `highWaterMark` unread bytes pauses its source, so a fast producer
 * cannot grow memory without bound. While the script waits on the command — a read of
 * any of its streams or wait() — every stream flows freely, so an unread stderr can
 * never stall the child while the script reads stdout (no deadlock, nothing lost).
 */
import type { ByteSource } from "./byte-source.js";
import { createDecoder, type ChunkDecoder } from "./decoder.js";
import { ByteParts } from "./byte-parts.js";
import { ExecError, toExecError } from "../errors.js";
import { BULK_CHUNK, STREAM_HIGH_WATER } from "../constants.js";

export interface FlowOwner {
  /** True while the script is blocked waiting on this command. */
  readonly waiting: boolean;
  /** Told once per stream, on its first chunk of bulk output (BULK_CHUNK or more). */
  bulkOutput?(): void;
}

const NEWLINE = 0x0a;

export class OutputStream {
  private chunks: Buffer[] = [];
  private head = 0; // bytes of chunks[0] already consumed
  private size = 0;
  private ended = false;
  private closed = false;
  private failure: ExecError | undefined;
  private source: ByteSource | undefined;
  /** The source's consumed(), when it reuses its buffers and the chunks we hold are its own. */
  private recycle: ((bytes: number) => void) | undefined;
  private paused = false;
  private wakeups: Array<() => void> = [];
  private wakeScheduled = false;
  private fills: Array<{ bytes: number; done: () => void }> = [];
  private lastChunk = 0;
  private arrivedBytes = 0;
  private bulkSeen = false;
  private readonly decoder: ChunkDecoder | undefined;

  /**
   * @param ringBytes ring mode (background processes): never pause the producer; past this
   *   many unread bytes, drop the oldest output instead.
   */
  constructor(
    readonly name: "stdout" | "stderr",
    private readonly owner: FlowOwner,
    encoding: string | undefined,
    private readonly highWaterMark = STREAM_HIGH_WATER,
    private readonly ringBytes?: number,
  ) {
    this.decoder = createDecoder(encoding);
  }

  /** Feed already-decoded output (from an OutputFanout) instead of attaching a source. */
  feed(chunk: Buffer): void {
    this.push(chunk);
  }

  /** End a fed stream; with `failure` its end is an error, not EOF. */
  endFeed(failure?: Error): void {
    this.finish(failure);
  }

  /** True when a read would not have to wait. */
  get readable(): boolean {
    return this.size > 0 || this.ended || this.closed;
  }

  /** Attach the backend's source. Called once, when the command has started. */
  attach(source: ByteSource): void {
    this.source = source;
    const { decoder } = this;
    if (decoder) {
      source.on("data", (chunk: Buffer) => {
        const text = decoder.write(chunk); // a copy: the source's chunk is free at once
        source.consumed?.(chunk.length);
        this.push(text);
      });
    } else {
      this.recycle = source.consumed?.bind(source);
      source.on("data", (chunk: Buffer) => this.push(chunk));
    }
    source.once("end", () => this.finish(source.failure));
    source.once("close", () => this.finish(source.failure));
    source.once("error", (e) => this.finish(e));
  }

  /** The command could not start: the stream ends empty. */
  abort(): void {
    this.finish();
  }

  private push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= BULK_CHUNK && !this.bulkSeen) {
      this.bulkSeen = true;
      this.owner.bulkOutput?.();
    }
    if (this.closed) return this.recycle?.(chunk.length); // closed by the script: drain and drop
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.arrivedBytes += chunk.length;
    this.lastChunk = chunk.length;
    this.wake();
    if (this.fills.length) this.settleFills();
    if (this.ringBytes !== undefined) {
      while (this.size > this.ringBytes && this.chunks.length > 1) {
        const first = this.chunks.shift()!;
        this.size -= first.length - this.head;
        this.recycle?.(first.length - this.head);
        this.head = 0;
      }
      return;
    }
    if (this.size > this.highWaterMark && !this.owner.waiting && !this.paused) {
      this.paused = true;
      this.source?.pause();
    }
  }

  private finish(failure?: Error): void {
    if (this.ended) return;
    if (failure) this.failure = lossError(failure, this.name);
    if (this.decoder) {
      const tail = this.decoder.end();
      if (tail.length) this.push(tail);
    }
    this.ended = true;
    this.wake();
    this.settleFills();
  }

  /**
   * Wake waiting readers on the next check phase, not at once: the rest of this poll phase
   * can then deliver more chunks, so the script gets several per wake-up and most of its
   * reads are answered without waiting (several times the throughput on a busy pipe).
   */
  private wake(): void {
    if (this.wakeups.length === 0 || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      const w = this.wakeups;
      this.wakeups = [];
      for (const f of w) f();
    });
  }

  /** True while the producer writes big chunks (bulk output rather than lines or prompts). */
  get bulk(): boolean {
    return this.lastChunk >= BULK_CHUNK;
  }

  get buffered(): number {
    return this.size;
  }

  /** Resolves once `bytes` are buffered, the stream ends or is closed, or `ms` have passed. */
  fill(bytes: number, ms: number): Promise<void> {
    if (this.size >= bytes || this.ended || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const entry = {
        bytes,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.fills = this.fills.filter((f) => f !== entry);
        resolve();
      }, ms);
      this.fills.push(entry);
    });
  }

  private settleFills(): void {
    const over = this.ended || this.closed;
    const done = this.fills.filter((f) => over || this.size >= f.bytes);
    if (done.length === 0) return;
    this.fills = this.fills.filter((f) => !done.includes(f));
    for (const f of done) f.done();
  }

  /** Let a paused source flow again (called when the script starts waiting, or after consumption). */
  resumeFlow(): void {
    if (this.paused && (this.owner.waiting || this.size <= this.highWaterMark)) {
      this.paused = false;
      this.source?.resume();
    }
  }

  get isEnded(): boolean {
    return this.ended && this.size === 0;
  }

  /** Why the output was cut short (transport lost, container gone, ...); undefined after a real end. */
  get error(): ExecError | undefined {
    return this.failure;
  }

  /** Resolves on the next arrival of data, or at once when the stream has ended or was closed. */
  changed(): Promise<void> {
    if (this.ended || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.wakeups.push(resolve));
  }

  /**
   * Up to `max` bytes; null at EOF; undefined when the caller must wait (changed()).
   * A stream cut short throws its failure once the bytes that arrived are read: never an EOF.
   */
  tryRead(max: number): ByteParts | null | undefined {
    if (this.size === 0) return this.ended ? this.eof() : undefined;
    return this.take(Math.min(max, this.size));
  }

  /** The end of the stream: null, or the failure that ended it early. */
  private eof(): null {
    if (this.failure) throw this.failure;
    return null;
  }

  /** One line without its "\n" (and a "\r" before it); null at EOF; undefined = wait. */
  tryReadLine(): Buffer | null | undefined {
    let offset = 0;
    for (let c = 0; c < this.chunks.length; c++) {
      const chunk = this.chunks[c]!;
      const start = c === 0 ? this.head : 0;
      const at = chunk.indexOf(NEWLINE, start);
      if (at >= 0) {
        const line = this.take(offset + (at - start) + 1).join();
        const cut = line.length >= 2 && line[line.length - 2] === 0x0d ? 2 : 1;
        return line.subarray(0, line.length - cut);
      }
      offset += chunk.length - start;
    }
    if (!this.ended) return undefined;
    if (this.size === 0) return this.eof();
    return this.take(this.size).join(); // last line without a newline (a cut stream: the bytes that came)
  }

  /**
   * Everything until EOF; undefined = wait (until ended). A stream cut short throws its
   * failure and keeps what arrived for read()/read_line(): "everything" was not there.
   */
  tryReadAll(): ByteParts | undefined {
    if (!this.ended) {
      // Reading everything: let the source flow regardless of the bound.
      this.paused = false;
      this.source?.resume();
      return undefined;
    }
    if (this.failure) throw this.failure;
    return this.take(this.size);
  }

  /** Bytes that ever arrived (read or not): tells a waiting matcher whether anything is new. */
  get arrived(): number {
    return this.arrivedBytes;
  }

  /** True once the source has ended (unread bytes may remain). */
  get sourceEnded(): boolean {
    return this.ended;
  }

  /**
   * The unread bytes without consuming them; past `window` bytes the oldest are consumed
   * first, so a matcher over unread output scans a bounded amount.
   */
  peek(window: number): ByteParts {
    if (this.size > window) this.take(this.size - window);
    const parts: Buffer[] = [];
    for (let c = 0; c < this.chunks.length; c++) parts.push(c === 0 ? this.chunks[c]!.subarray(this.head) : this.chunks[c]!);
    return new ByteParts(parts, this.size);
  }

  /** Consume the next `n` unread bytes (at most what is buffered). */
  skip(n: number): void {
    if (n > 0) this.take(Math.min(n, this.size));
  }

  /** Stop reading: drop what is buffered, keep draining the source so the child never blocks. */
  close(): void {
    this.closed = true;
    this.recycle?.(this.size);
    this.chunks = [];
    this.size = 0;
    this.head = 0;
    if (this.paused) {
      this.paused = false;
      this.source?.resume();
    }
    this.wake();
    this.settleFills();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The next `n` buffered bytes as views into the chunks (nothing is copied). */
  private take(n: number): ByteParts {
    const parts: Buffer[] = [];
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0]!;
      const take = Math.min(n - filled, chunk.length - this.head);
      parts.push(chunk.subarray(this.head, this.head + take));
      filled += take;
      this.consume(take);
    }
    return new ByteParts(parts, n);
  }

  /**
   * Drop `n` bytes from the front. With a recycling source they may be read into again after
   * this: take()'s views must be copied before the next I/O callback, and are — into the Lua
   * heap, in this turn, or in the promise reactions that answer a waiting read (no I/O runs
   * between those).
   */
  private consume(n: number): void {
    this.recycle?.(n);
    this.head += n;
    this.size -= n;
    if (this.head >= this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
    if (this.paused && this.size <= this.highWaterMark) this.resumeFlow();
  }
}

/** A source's failure as the error a read reports (kind kept when the backend chose one). */
function lossError(e: Error, name: string): ExecError {
  if (e instanceof ExecError) return e;
  const err = toExecError(e, "UNAVAILABLE");
  return new ExecError(err.kind, `${name} was cut short: ${err.message}`);
}
