/**
 * A command's stdout read from a socket into a ring of buffers that are read into again once
 * the stream is done with them (ByteSource.consumed), instead of a fresh 64 KiB buffer per
 * read as a pipe's 'data' events give. Fresh buffers cost an allocation, page faults as the
 * heap cycles through new memory, and garbage collections: on a 1 GiB read, 8.4 thousand
 * faults and 480–580 ms of CPU against ~100 and 150–245 ms (bench/read-ceiling.js).
 *
 * While every slot is still held (the script is slow to read, or waits on another stream), a
 * read goes into a fresh buffer: output is never held back for want of a slot.
 */
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import type { ByteSource } from "../../stream/byte-source.js";
import { HeldChunks } from "../../stream/held-chunks.js";

const SLOT = 64 * 1024; // what one read asks for, as Node's own reads do
const SLOTS = 16;

export class RecyclingReader extends EventEmitter implements ByteSource {
  private ring: Buffer | undefined; // made after the first read: most commands print little
  private started = false;
  private first = 0; // oldest slot in use
  private used = 0; // slots in use: emitted and not yet consumed, plus the one reserved
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
    this.held.consume(bytes, (_slot, _n, whole) => {
      if (!whole) return;
      // Slots are taken and given back in order, so the oldest one is this one.
      this.first = (this.first + 1) % SLOTS;
      this.used--;
    });
  }

  private nextBuffer(): Buffer {
    // The first read (asked for when the socket is made) and reads while every slot is held
    // go into fresh buffers; the ring is made once a second read comes.
    if (!this.started) {
      this.started = true;
      return Buffer.allocUnsafeSlow(SLOT);
    }
    if (this.used === SLOTS) {
      this.reserved = -1;
      return Buffer.allocUnsafeSlow(SLOT);
    }
    this.ring ??= Buffer.allocUnsafeSlow(SLOT * SLOTS);
    this.reserved = (this.first + this.used) % SLOTS;
    this.used++;
    return this.ring.subarray(this.reserved * SLOT, (this.reserved + 1) * SLOT);
  }

  private arrived(bytes: number, buf: Buffer): void {
    this.held.add(this.reserved, bytes);
    this.emit("data", buf.subarray(0, bytes));
  }
}
