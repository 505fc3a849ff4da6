/**
 * stdout or stderr of an Incus exec as a Readable: binary frames are data, the first text
 * frame (empty) is the end of the stream; a connection that drops (often 1006, no close
 * frame) also ends it. Backpressure pauses the websocket, which stalls the server's pipe
 * and so the command, instead of buffering without bound.
 */
import { Readable } from "node:stream";
import type WebSocket from "ws";
import type { MarkerParser } from "./wrapper.js";

export class WsOutput extends Readable {
  private ended = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly parser?: MarkerParser,
  ) {
    super({ highWaterMark: 256 * 1024 });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (this.ended) return;
      if (!isBinary) {
        this.finish();
        return;
      }
      const chunk = this.parser ? this.parser.feed(data) : data;
      if (chunk.length > 0 && !this.push(chunk)) ws.pause();
    });
    ws.on("close", () => this.finish());
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
    if (this.parser) {
      const tail = this.parser.end();
      if (tail.length > 0) this.push(tail);
    }
    this.push(null);
  }
}
