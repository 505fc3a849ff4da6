/**
 * An Incus output websocket over the unix socket, read into a ring of buffers that are read
 * into again once nothing refers to them any more, instead of a fresh 64 KiB buffer per read
 * as a socket's 'data' events give (the same cause and cure as the native reader's, see
 * src/backend/native/recycling-reader.ts; figures in docs/performance.md).
 *
 * ws gets every read as a 'data' event and keeps views of it: the bytes of a frame that has
 * not fully arrived (until the rest comes and it copies them), and message payloads that fit
 * in one read, which WsOutput hands on. So a slot is read into again only when
 *   - every byte handed on from it has been consumed (ByteSource.consumed, via WsOutput), and
 *   - no incomplete message starts in or before it (FrameTracker follows the frames).
 * Reads go into fresh buffers until the websocket is open and output comes in bulk (a command
 * that prints a line never makes a ring), and while every slot is held: output is never held
 * back for want of a slot.
 */
import { connect, type Socket } from "node:net";
import { FrameTracker } from "./frame-tracker.js";
import { HeldChunks } from "../../stream/held-chunks.js";
import { SlotRing } from "../../stream/slot-ring.js";
import { SLOT, SLOTS } from "../../constants.js";
/** A read at least this big means bulk output (Incus sends 32 KiB messages). */
const BULK_READ = 16 * 1024;

export class RingReads {
  private readonly slots = new SlotRing();
  private socket: Socket | undefined;
  private readonly tracker = new FrameTracker();
  /** The websocket is open: what is read now is frames (before it, the HTTP response). */
  private open = false;
  private bulk = false;
  private reserved = -1; // the slot the next read goes into; -1: a fresh buffer
  /** Per slot: the stream offset just past its bytes, and bytes handed on, not yet consumed. */
  private readonly slotEnd = new Array<number>(SLOTS).fill(0);
  private readonly outstanding = new Array<number>(SLOTS).fill(0);
  private readonly held = new HeldChunks();

  /** ws's createConnection for a `ws+unix:` URL. */
  readonly connect = (options: { socketPath?: string }): Socket => {
    const socket = connect({
      path: options.socketPath!,
      onread: {
        buffer: () => this.nextBuffer(),
        callback: (bytes: number, buf: Uint8Array) => {
          if (this.reserved >= 0) this.slotEnd[this.reserved] = this.tracker.seenBytes + bytes;
          if (this.open && bytes >= BULK_READ) this.bulk = true;
          socket.emit("data", (buf as Buffer).subarray(0, bytes)); // the HTTP client's, then ws's listener
          return true; // pausing is pause()'s job
        },
      },
    });
    this.socket = socket;
    return socket;
  };

  /** Call on the websocket's 'open': from now on the socket carries frames. */
  opened(): void {
    this.open = true;
    // After ws's own listener, never before it: frame bytes that came with the HTTP response
    // are put back into the socket and flow to the listeners there are, so a listener added
    // on 'upgrade' (before ws has one) would take them from ws.
    this.socket?.on("data", (chunk: Buffer) => this.tracker.feed(chunk));
  }

  /** A chunk is handed on (in order): note which slot it keeps, until consumed(). */
  handOn(chunk: Buffer): Buffer {
    const slot = this.slots.slotOf(chunk);
    if (slot < 0) {
      this.held.add(-1, chunk.length);
      return chunk;
    }
    if (slot !== this.slots.slotOf(chunk.subarray(chunk.length - 1))) {
      // Never made by ws (a view is within one read); copied rather than tracked twice.
      this.held.add(-1, chunk.length);
      return Buffer.from(chunk);
    }
    this.outstanding[slot]! += chunk.length;
    this.held.add(slot, chunk.length);
    return chunk;
  }

  consumed(bytes: number): void {
    this.held.consume(bytes, (slot, n) => (this.outstanding[slot]! -= n));
  }

  /** Give back the oldest slots that nothing refers to any more (always in order). */
  private giveBackUnused(): void {
    for (let slot = this.slots.oldest; slot >= 0; slot = this.slots.oldest) {
      if (this.outstanding[slot]! > 0 || this.slotEnd[slot]! > this.tracker.incompleteFrom) return;
      this.slots.giveBack();
    }
  }

  private nextBuffer(): Buffer {
    this.reserved = -1;
    if (!this.bulk) return Buffer.allocUnsafeSlow(SLOT);
    this.giveBackUnused();
    const slot = this.slots.take();
    if (slot < 0) return Buffer.allocUnsafeSlow(SLOT);
    this.reserved = slot;
    this.outstanding[slot] = 0;
    this.slotEnd[slot] = Infinity; // until read into
    return this.slots.memory(slot);
  }
}
