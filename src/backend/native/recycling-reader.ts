/**
 * A command's stdout read from a socket into a ring of buffers that are read into again once
 * the stream is done with them (ByteSource.consumed), instead of a fresh 64 KiB buffer per
 * read as a pipe's 'data' events give. Fresh buffers cost an allocation, page faults as the
 * heap cycles through new memory, and garbage collections (bench/read-ceiling.js; figures
 * in docs/performance.md).
 *
 * While every slot is still held (the script is slow to read, or waits on another stream), a
 * read goes into a fresh buffer: output is never held back for want of a slot.
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { ByteSource } from "../../stream/byte-source.js";
import { HeldChunks } from "../../stream/held-chunks.js";
import { SlotRing } from "../../stream/slot-ring.js";
import { SLOT } from "../../constants.js";

export class RecyclingReader extends EventEmitter implements ByteSource {
  private readonly slots = new SlotRing(); // taken from the second read: most commands print little
  private started = false;
  private reserved = -1; // the slot the next read goes into; -1: a fresh buffer
  private readonly held = new HeldChunks();
  private socket: Socket | undefined;

  /** The `onread` option for net.connect: where each read goes, and what to do with it. */
  readonly onread = {
    buffer: (): Buffer => this.nextBuffer(),
    callback: (bytes: number, buf: Uint8Array): boolean => {
      this.arrived(bytes, buf as Buffer);
      return true; // pausing is pause()'s job
    },
  };

  /** Start following `socket`, made with this reader's onread. */
  bind(socket: Socket): void {
    this.socket = socket;
    socket.once("end", () => this.emit("end"));
    socket.once("close", () => this.emit("close"));
    // Before the stream is attached no one listens: the 'close' after it ends the stream.
    socket.on("error", (e) => void (this.listenerCount("error") > 0 && this.emit("error", e)));
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.socket?.bytesRead ?? 0;
  }

  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  /** Stop reading; what was emitted stays valid. */
  destroy(): void {
    this.socket?.destroy();
  }

  consumed(bytes: number): void {
    // Slots are taken and given back in order, so a chunk all consumed is the oldest slot's.
    this.held.consume(bytes, (_slot, _n, whole) => {
      if (whole) this.slots.giveBack();
    });
  }

  private nextBuffer(): Buffer {
    // The first read (asked for when the socket is made) and reads while every slot is held
    // go into fresh buffers.
    this.reserved = -1;
    if (!this.started) {
      this.started = true;
      return Buffer.allocUnsafeSlow(SLOT);
    }
    this.reserved = this.slots.take();
    return this.reserved >= 0 ? this.slots.memory(this.reserved) : Buffer.allocUnsafeSlow(SLOT);
  }

  private arrived(bytes: number, buf: Buffer): void {
    this.held.add(this.reserved, bytes);
    this.emit("data", buf.subarray(0, bytes));
  }
}
