/**
 * The Readable a command's stdout/stderr is delivered through. `write()` returns a
 * promise when the reader is full (Readable.push answered false); it resolves when the
 * reader asks for more (_read), which is how backpressure reaches the Docker socket.
 */
import { Readable } from "node:stream";

export class OutputPipe extends Readable {
  private wanted: (() => void) | undefined;
  private done = false;
  /** Set when the pipe ends without the end of the command's output (see ByteSource). */
  failure: Error | undefined;

  constructor() {
    super({ highWaterMark: 64 * 1024 });
  }

  override _read(): void {
    const w = this.wanted;
    this.wanted = undefined;
    w?.();
  }

  /** Deliver bytes; a promise means "wait before sending more". Bytes after end() are dropped. */
  write(chunk: Buffer): Promise<void> | undefined {
    if (this.done || chunk.length === 0) return undefined;
    // No copy: pieces are views into the socket's read buffers, which Node never reuses.
    if (this.push(chunk)) return undefined;
    return new Promise((resolve) => {
      const prev = this.wanted;
      this.wanted = () => {
        prev?.();
        resolve();
      };
    });
  }

  end(): void {
    if (this.done) return;
    this.done = true;
    this.push(null);
    this._read();
  }

  /** End the pipe after what was written, as a loss: readers get `error` instead of EOF. */
  fail(error: Error): void {
    if (this.done) return;
    this.failure = error;
    this.end();
  }

  get ended(): boolean {
    return this.done;
  }
}
