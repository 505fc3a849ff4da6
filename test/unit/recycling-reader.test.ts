/**
 * RecyclingReader over a real socket pair (SocketPairs): bytes arrive in order, a slot is read
 * into again only after consumed() gave it back, and while all are held reads go to fresh
 * buffers. The other end is written from JS here; test/backend/native-stdout.test.ts has a child.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SocketPairs, type StdoutPair } from "../../src/backend/native/socket-pairs.js";

let pairs: SocketPairs;
beforeAll(async () => {
  const p = await SocketPairs.open();
  if (!p) throw new Error("no Unix sockets here");
  pairs = p;
});
afterAll(() => pairs?.close());

async function pair(): Promise<StdoutPair> {
  const p = await pairs.take();
  if (!p) throw new Error("no pair");
  return p;
}

/** Write `data` into the child's end in pieces, then end it. */
function send(p: StdoutPair, data: Buffer): void {
  for (let at = 0; at < data.length; at += 100_000) p.theirs.write(data.subarray(at, at + 100_000));
  p.theirs.end();
}

describe("RecyclingReader", () => {
  it("a reader that consumes as it goes gets every byte, in reused memory", async () => {
    const p = await pair();
    const data = randomBytes(8 * 1024 * 1024 + 7);
    const got: Buffer[] = [];
    const memory = new Set<ArrayBufferLike>();
    p.reader.on("data", (c: Buffer) => {
      got.push(Buffer.from(c)); // a copy: the slot is given back at once
      memory.add(c.buffer);
      p.reader.consumed(c.length);
    });
    const ended = new Promise((r) => p.reader.once("end", r));
    send(p, data);
    await ended;
    expect(Buffer.concat(got).equals(data)).toBe(true);
    expect(got.length).toBeGreaterThan(100);
    expect(memory.size).toBeLessThanOrEqual(2); // the first read's buffer and the ring
    p.reader.destroy();
  });

  it("while every slot is held, reads go to fresh buffers; held chunks are never overwritten", async () => {
    const p = await pair();
    const data = randomBytes(4 * 1024 * 1024);
    const held: Buffer[] = [];
    p.reader.on("data", (c: Buffer) => held.push(c)); // kept, not copied, never consumed
    const ended = new Promise((r) => p.reader.once("end", r));
    send(p, data);
    await ended;
    expect(Buffer.concat(held).equals(data)).toBe(true);
    expect(new Set(held.map((c) => c.buffer)).size).toBeGreaterThan(10);
    p.reader.destroy();
  });

  it("partial consumption gives a slot back only when all of it is consumed", async () => {
    const p = await pair();
    const data = randomBytes(3 * 1024 * 1024);
    const queue: Buffer[] = [];
    const out: Buffer[] = [];
    let owed = 0;
    p.reader.on("data", (c: Buffer) => {
      queue.push(c);
      // Consume in odd steps of 5000 bytes, copying out what is consumed first.
      owed += c.length;
      while (owed >= 5000) {
        let need = 5000;
        while (need > 0) {
          const head = queue[0]!;
          const n = Math.min(need, head.length);
          out.push(Buffer.from(head.subarray(0, n)));
          if (n === head.length) queue.shift();
          else queue[0] = head.subarray(n);
          need -= n;
        }
        p.reader.consumed(5000);
        owed -= 5000;
      }
    });
    const ended = new Promise((r) => p.reader.once("end", r));
    send(p, data);
    await ended;
    for (const c of queue) out.push(Buffer.from(c));
    expect(Buffer.concat(out).equals(data)).toBe(true);
    p.reader.destroy();
  });
});
