/**
 * Finds a delimiter (a random marker) in a byte stream that arrives in pieces.
 * Bytes before the marker are body; a tail that could be the start of the marker is
 * held back until the next piece settles it, so the body is passed on byte-exact.
 */
export interface ScanResult {
  /** Body bytes safe to pass on (may be empty). */
  body: Buffer;
  /** Bytes after the marker when it was found in this piece, else undefined. */
  rest?: Buffer;
}

export class MarkerScanner {
  private held: Buffer = Buffer.alloc(0);

  constructor(private readonly marker: Buffer) {}

  push(piece: Buffer): ScanResult {
    const data = this.held.length ? Buffer.concat([this.held, piece]) : piece;
    const at = data.indexOf(this.marker);
    if (at >= 0) {
      this.held = Buffer.alloc(0);
      return { body: data.subarray(0, at), rest: data.subarray(at + this.marker.length) };
    }
    // Hold back the longest suffix that is a prefix of the marker.
    let keep = Math.min(this.marker.length - 1, data.length);
    while (keep > 0 && !data.subarray(data.length - keep).equals(this.marker.subarray(0, keep))) keep--;
    this.held = Buffer.from(data.subarray(data.length - keep));
    return { body: data.subarray(0, data.length - keep) };
  }
}
