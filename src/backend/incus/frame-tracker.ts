/**
 * Follows the frame boundaries of a server-to-client websocket byte stream (RFC 6455 §5.2)
 * without keeping any of its bytes: `incompleteFrom` is where the message that has not fully
 * arrived yet starts (the frame being read, or the first frame of a fragmented message). ws
 * keeps views of those bytes (and only those) until the rest arrives, so everything before
 * that offset is free of it (see ring-reads.ts).
 */
export class FrameTracker {
  /** Bytes fed so far. */
  private seen = 0;
  /** Start of the frame being read. */
  private frameStart = 0;
  /** End of that frame, once its header is known. */
  private frameEnd: number | undefined;
  private header: number[] = [];
  /** FIN bit and opcode of the frame being read. */
  private first = 0;
  /** Start of a fragmented data message whose final frame has not come yet. */
  private messageStart: number | undefined;

  get incompleteFrom(): number {
    return this.messageStart ?? this.frameStart;
  }

  get seenBytes(): number {
    return this.seen;
  }

  feed(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.frameEnd === undefined) {
        this.header.push(chunk[i++]!);
        this.frameEnd = this.frameLength(this.header);
        if (this.frameEnd === undefined) continue;
        this.frameEnd += this.frameStart;
        this.first = this.header[0]!;
        this.header = [];
      }
      const take = Math.min(chunk.length - i, this.frameEnd - (this.seen + i));
      i += take;
      if (this.seen + i === this.frameEnd) this.frameDone();
    }
    this.seen += chunk.length;
  }

  private frameDone(): void {
    const fin = (this.first & 0x80) !== 0;
    const control = (this.first & 0x08) !== 0; // opcodes 8-15, which may come between fragments
    if (!control) {
      if (!fin) this.messageStart ??= this.frameStart;
      else this.messageStart = undefined;
    }
    this.frameStart = this.frameEnd!;
    this.frameEnd = undefined;
  }

  /** A frame's whole length from its header bytes so far; undefined while more are needed. */
  private frameLength(h: number[]): number | undefined {
    if (h.length < 2) return undefined;
    const masked = (h[1]! & 0x80) !== 0;
    const len7 = h[1]! & 0x7f;
    const extra = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    const headerLength = 2 + extra + (masked ? 4 : 0);
    if (h.length < headerLength) return undefined;
    let payload = len7;
    if (extra > 0) {
      payload = 0;
      for (let k = 2; k < 2 + extra; k++) payload = payload * 256 + h[k]!;
    }
    return headerLength + payload;
  }
}
