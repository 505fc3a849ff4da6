/**
 * Docker's multiplexed stream format (Tty false): frames of
 * [stream type: 1 byte][0,0,0][payload length: uint32 BE][payload].
 *
 * FrameDemux is a Writable: pipe the hijacked socket into it. Each payload piece goes
 * to `sink`; when the sink answers with a promise (its reader is full), the demux does
 * not ask for more input until it resolves — so the socket stops being read and the
 * daemon, and finally the command, block instead of buffering without bound.
 * Payloads are passed on in pieces as they arrive (a frame is never buffered whole).
 */
import { Writable } from "node:stream";

export type FrameSink = (stream: number, payload: Buffer) => Promise<void> | void;

const HEADER = 8;

export class FrameDemux extends Writable {
  private header = Buffer.alloc(HEADER);
  private headerFill = 0;
  private stream = 0;
  private remaining = 0;

  constructor(
    private readonly sink: FrameSink,
    private readonly onEnd: (error?: Error) => void,
  ) {
    super({ highWaterMark: 64 * 1024 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.consume(chunk, 0).then(() => callback(), callback);
  }

  private async consume(chunk: Buffer, offset: number): Promise<void> {
    while (offset < chunk.length) {
      if (this.remaining === 0) {
        const take = Math.min(HEADER - this.headerFill, chunk.length - offset);
        chunk.copy(this.header, this.headerFill, offset, offset + take);
        this.headerFill += take;
        offset += take;
        if (this.headerFill < HEADER) return;
        this.headerFill = 0;
        this.stream = this.header[0]!;
        this.remaining = this.header.readUInt32BE(4);
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      const piece = chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      const wait = this.sink(this.stream, piece);
      if (wait) await wait;
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.onEnd();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.onEnd(error ?? undefined);
    callback(error);
  }
}
