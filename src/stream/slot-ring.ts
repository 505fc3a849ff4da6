/**
 * One buffer cut into fixed slots that a reader reads into, taken and given back in order
 * (oldest first), for sources that reuse their memory (ByteSource.consumed). The buffer is
 * made on the first take: a reader that never needs a slot never allocates one.
 */
import { SLOT, SLOTS } from "../constants.js";

export class SlotRing {
  private ring: Buffer | undefined;
  private first = 0; // oldest slot taken
  private used = 0; // slots taken

  /** Take the next slot: its index, or -1 while every slot is taken. */
  take(): number {
    if (this.used === SLOTS) return -1;
    this.ring ??= Buffer.allocUnsafeSlow(SLOT * SLOTS);
    const slot = (this.first + this.used) % SLOTS;
    this.used++;
    return slot;
  }

  /** The memory of a slot taken. */
  memory(slot: number): Buffer {
    return this.ring!.subarray(slot * SLOT, (slot + 1) * SLOT);
  }

  /** The oldest slot taken, or -1 when none is. */
  get oldest(): number {
    return this.used > 0 ? this.first : -1;
  }

  /** Give back the oldest slot taken. */
  giveBack(): void {
    this.first = (this.first + 1) % SLOTS;
    this.used--;
  }

  /** The slot whose memory `chunk` starts in, or -1 when it is not this ring's memory. */
  slotOf(chunk: Buffer): number {
    return this.ring && chunk.buffer === this.ring.buffer ? Math.floor((chunk.byteOffset - this.ring.byteOffset) / SLOT) : -1;
  }
}
