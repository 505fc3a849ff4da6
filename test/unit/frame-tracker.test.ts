/**
 * FrameTracker (src/backend/incus/frame-tracker.ts) must know where the message that has not
 * fully arrived starts, however the bytes are split: ring-reads.ts reads into a buffer again
 * only below that offset. Frames built here by hand (RFC 6455 §5.2), fed in random pieces.
 */
import { randomInt } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FrameTracker } from "../../src/backend/incus/frame-tracker.js";

/** One frame: FIN flag, opcode, payload length (7-, 16- or 64-bit form as needed), optional mask. */
function frame(fin: boolean, opcode: number, length: number, masked = false): Buffer {
  const lenBytes = length < 126 ? [length] : length < 65536 ? [126, length >> 8, length & 255] : [127, 0, 0, 0, 0, (length >>> 24) & 255, (length >> 16) & 255, (length >> 8) & 255, length & 255];
  const header = [(fin ? 0x80 : 0) | opcode, (masked ? 0x80 : 0) | lenBytes[0]!, ...lenBytes.slice(1), ...(masked ? [1, 2, 3, 4] : [])];
  return Buffer.concat([Buffer.from(header), Buffer.alloc(length, 0x61)]);
}

/**
 * Feed `frames` in random pieces; after each piece, incompleteFrom must be the start of the
 * earliest message not fully in (or the bytes fed, when every one is). `messageOf[i]` is the
 * first frame of the message frame i belongs to (fragments share it; control frames are their own).
 */
function check(frames: Buffer[], messageOf: number[]): void {
  const stream = Buffer.concat(frames);
  const starts: number[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const f of frames) starts.push(at), ends.push((at += f.length));
  const tracker = new FrameTracker();
  let fed = 0;
  while (fed < stream.length) {
    const n = Math.min(stream.length - fed, 1 + randomInt(Math.random() < 0.3 ? 12 : 70000));
    tracker.feed(stream.subarray(fed, fed + n));
    fed += n;
    let expected = fed;
    for (const m of new Set(messageOf)) {
      const complete = ends[messageOf.lastIndexOf(m)]! <= fed;
      if (!complete) expected = Math.min(expected, starts[m]!);
    }
    expect(tracker.incompleteFrom, `after ${fed} bytes`).toBe(expected);
    expect(tracker.seenBytes).toBe(fed);
  }
}

describe("FrameTracker", () => {
  it("follows frames of every length form, masked or not, split anywhere", () => {
    for (let round = 0; round < 30; round++) {
      const frames = [frame(true, 2, 0), frame(true, 2, 5), frame(true, 2, 125), frame(true, 2, 126), frame(true, 2, 32768), frame(true, 2, 70000), frame(true, 1, 3, true), frame(true, 2, 65535), frame(true, 1, 0)];
      check(frames, frames.map((_, i) => i));
    }
  });

  it("holds a fragmented message from its first frame until its final one, control frames between", () => {
    for (let round = 0; round < 30; round++) {
      // 0: whole; 1-4: one message in three fragments with a ping between; 5: whole.
      const frames = [frame(true, 2, 100), frame(false, 2, 40000), frame(false, 0, 300), frame(true, 9, 4), frame(true, 0, 40000), frame(true, 2, 10)];
      check(frames, [0, 1, 1, 3, 1, 5]);
    }
  });
});
