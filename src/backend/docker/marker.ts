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

const EMPTY = Buffer.alloc(0);

export class MarkerScanner {
  private held: Buffer = EMPTY;

  constructor(private readonly marker: Buffer) {}

  /**
   * Where the whole marker starts, or -1. Looks for its first byte with indexOf(byte)
   * (memchr) and compares only there: bulk output rarely has that byte, and a substring
   * search over every byte was the largest JS cost of the Docker read path.
   */
  private find(data: Buffer): number {
    const m = this.marker;
    const last = data.length - m.length;
    for (let at = data.indexOf(m[0]!); at >= 0 && at <= last; at = data.indexOf(m[0]!, at + 1)) {
      if (data.compare(m, 0, m.length, at, at + m.length) === 0) return at;
    }
    return -1;
  }

  push(piece: Buffer): ScanResult {
    const data = this.held.length ? Buffer.concat([this.held, piece]) : piece;
    const at = this.find(data);
    if (at >= 0) {
      this.held = EMPTY;
      return { body: data.subarray(0, at), rest: data.subarray(at + this.marker.length) };
    }
    // Hold back the longest suffix that is a prefix of the marker: the first position in the
    // last marker-length bytes where the rest of the data starts the marker.
    let keep = 0;
    const first = this.marker[0];
    for (let p = Math.max(0, data.length - this.marker.length + 1); p < data.length; p++) {
      if (data[p] === first && data.compare(this.marker, 0, data.length - p, p) === 0) {
        keep = data.length - p;
        break;
      }
    }
    this.held = keep ? Buffer.from(data.subarray(data.length - keep)) : EMPTY;
    return { body: keep ? data.subarray(0, data.length - keep) : data };
  }
}
