/**
 * Output of a background process: decoded once, kept in a bounded replay ring, and fanned
 * out to every reader (the handle exec() returned and each attach()). The producer is never
 * paused — a background process must not stall because nobody reads it — so each reader
 * is a ring-mode OutputStream that drops its oldest bytes past the bound.
 */
import type { ByteSource } from "./byte-source.js";
import { createDecoder, type ChunkDecoder } from "./decoder.js";
import { OutputStream, type FlowOwner } from "./output-stream.js";
import { DEFAULT_RING_BYTES } from "../constants.js";


export class OutputFanout {
  private replay: Buffer[] = [];
  private replaySize = 0;
  private ended = false;
  private failure: Error | undefined;
  private readonly readers = new Set<OutputStream>();
  private readonly decoder: ChunkDecoder | undefined;

  constructor(
    readonly name: "stdout" | "stderr",
    encoding: string | undefined,
    private readonly ringBytes = DEFAULT_RING_BYTES,
  ) {
    this.decoder = createDecoder(encoding);
  }

  attach(source: ByteSource): void {
    source.on("data", (chunk: Buffer) => {
      // The replay ring keeps chunks for later readers: a source's reused buffer is copied.
      const kept = this.decoder ? this.decoder.write(chunk) : source.consumed ? Buffer.from(chunk) : chunk;
      source.consumed?.(chunk.length);
      this.publish(kept);
    });
    const end = (failure?: Error) => {
      if (this.ended) return;
      const tail = this.decoder?.end();
      if (tail?.length) this.publish(tail);
      this.ended = true;
      this.failure = failure;
      for (const r of this.readers) r.endFeed(failure);
    };
    source.once("end", () => end(source.failure));
    source.once("close", () => end(source.failure));
    source.once("error", (e) => end(e));
  }

  /** The command never started. */
  abort(): void {
    this.ended = true;
    for (const r of this.readers) r.endFeed();
  }

  private publish(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.replay.push(chunk);
    this.replaySize += chunk.length;
    while (this.replaySize - this.replay[0]!.length >= this.ringBytes) this.replaySize -= this.replay.shift()!.length;
    for (const r of this.readers) {
      if (r.isClosed) this.readers.delete(r);
      else r.feed(chunk);
    }
  }

  /** A new reader that first replays the retained tail (at most ringBytes), then follows live output. */
  subscribe(owner: FlowOwner): OutputStream {
    const reader = new OutputStream(this.name, owner, undefined, undefined, this.ringBytes);
    let skip = Math.max(0, this.replaySize - this.ringBytes);
    for (const chunk of this.replay) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      reader.feed(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    if (this.ended) reader.endFeed(this.failure);
    else this.readers.add(reader);
    return reader;
  }
}
