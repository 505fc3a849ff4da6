/**
 * For a source that reuses its buffers (ByteSource.consumed): the chunks it has handed on and
 * that are not consumed yet, oldest first, each with the buffer slot it lies in (-1: memory
 * of its own, nothing to give back).
 */
export class HeldChunks {
  private held: Array<{ slot: number; left: number }> = [];

  add(slot: number, bytes: number): void {
    this.held.push({ slot, left: bytes });
  }

  /**
   * The reader is done with the next `bytes`: `free(slot, n, whole)` for each slot's share,
   * `whole` once its chunk is all consumed.
   */
  consume(bytes: number, free: (slot: number, n: number, whole: boolean) => void): void {
    while (bytes > 0 && this.held.length > 0) {
      const h = this.held[0]!;
      const n = Math.min(bytes, h.left);
      h.left -= n;
      bytes -= n;
      const whole = h.left === 0;
      if (whole) this.held.shift();
      if (h.slot >= 0) free(h.slot, n, whole);
      if (!whole) return;
    }
  }
}
