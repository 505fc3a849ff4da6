/** OutputStream flow control and decoding, driven by an in-memory Readable (pure logic). */
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { OutputStream } from "../../src/stream/output-stream.js";
import type { ByteParts } from "../../src/stream/byte-parts.js";

function source(chunks: number, size: number) {
  let sent = 0;
  return new Readable({
    highWaterMark: size,
    read() {
      if (sent >= chunks) return this.push(null);
      this.push(Buffer.alloc(size, sent++ % 256));
    },
  });
}
const tick = () => new Promise((r) => setTimeout(r, 20));
/** Bytes the source has handed out so far (its data events, which the stream also gets). */
function sent(src: Readable): { bytes: number } {
  const count = { bytes: 0 };
  src.on("data", (c: Buffer) => (count.bytes += c.length));
  return count;
}

describe("OutputStream", () => {
  it("pauses the producer at the bound while the script is busy, and loses nothing", async () => {
    const owner = { waiting: false };
    const s = new OutputStream("stdout", owner, undefined, 1024 * 1024);
    const src = source(320, 64 * 1024); // 20 MiB
    s.attach(src);
    const out = sent(src);
    await tick();
    await tick();
    expect(src.isPaused()).toBe(true);
    expect(out.bytes).toBeLessThanOrEqual(1024 * 1024 + 2 * 64 * 1024);
    let total = 0;
    for (;;) {
      const c = s.tryRead(64 * 1024);
      if (c === null) break;
      if (c === undefined) {
        await s.changed();
        continue;
      }
      total += c.length;
    }
    expect(total).toBe(20 * 1024 * 1024);
  });

  it("tells its owner once, on the first chunk of bulk output, and never for small chunks", async () => {
    let told = 0;
    const owner = { waiting: true, bulkOutput: () => told++ };
    const small = new OutputStream("stdout", owner, undefined);
    for (let i = 0; i < 100; i++) small.feed(Buffer.alloc(16 * 1024 - 1));
    expect(told).toBe(0);
    const big = new OutputStream("stdout", owner, undefined);
    big.feed(Buffer.alloc(100));
    big.feed(Buffer.alloc(16 * 1024));
    big.feed(Buffer.alloc(64 * 1024));
    expect(told).toBe(1);
  });

  it("flows freely while the script waits on the command", async () => {
    const owner = { waiting: true };
    const s = new OutputStream("stderr", owner, undefined, 1024);
    const src = source(100, 64 * 1024);
    s.attach(src);
    const out = sent(src);
    while (!src.readableEnded) await tick();
    expect(out.bytes).toBe(100 * 64 * 1024);
    expect(s.buffered).toBe(100 * 64 * 1024);
  });

  it("read_line handles CRLF, long lines across chunks and a last line without newline", async () => {
    const s = new OutputStream("stdout", { waiting: false }, undefined);
    const long = "x".repeat(200_000);
    s.attach(Readable.from([Buffer.from("a\r\nb"), Buffer.from(long.slice(0, 100)), Buffer.from(long.slice(100) + "\nlast")]));
    const lines: string[] = [];
    for (;;) {
      const l = s.tryReadLine();
      if (l === null) break;
      if (l === undefined) {
        await s.changed();
        continue;
      }
      lines.push(l.toString());
    }
    expect(lines).toEqual(["a", "b" + long, "last"]);
  });

  it("decodes CP949 split byte by byte", async () => {
    const bytes = Buffer.from([0xc7, 0xd1, 0xb1, 0xdb, 0x0a]);
    const t = new OutputStream("stdout", { waiting: false }, "euc-kr");
    t.attach(Readable.from([...bytes].map((b) => Buffer.from([b]))));
    let all: ByteParts | undefined;
    while ((all = t.tryReadAll()) === undefined) await t.changed();
    expect(all.join().toString("utf8")).toBe("한글\n");
  });

  it("a read across chunks hands on views of them, in order, up to the size asked", async () => {
    const s = new OutputStream("stdout", { waiting: false }, undefined);
    const chunks = [Buffer.from("abc"), Buffer.from("defg"), Buffer.from("hi")];
    s.attach(Readable.from(chunks));
    while (s.buffered < 9) await tick();
    const first = s.tryRead(5)!;
    expect(first.length).toBe(5);
    expect(first.parts.map((p) => p.toString())).toEqual(["abc", "de"]);
    // views, not copies
    expect(first.parts[0]!.buffer).toBe(chunks[0]!.buffer);
    expect(first.parts[0]!.byteOffset).toBe(chunks[0]!.byteOffset);
    expect(s.tryRead(100)!.join().toString()).toBe("fghi");
  });

  it("fill() waits for enough bytes, for the end, or for its time limit, whichever comes first", async () => {
    const s = new OutputStream("stdout", { waiting: true }, undefined);
    const src = new PassThrough();
    s.attach(src);
    const filled = s.fill(10, 5000);
    src.write(Buffer.alloc(6));
    await tick();
    let done = false;
    void filled.then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    src.write(Buffer.alloc(4));
    await filled; // 10 bytes: long before 5 s
    expect(s.buffered).toBe(10);
    const t0 = Date.now();
    await s.fill(100, 20); // never that many: the time limit
    expect(Date.now() - t0).toBeGreaterThanOrEqual(15);
    const atEnd = s.fill(100, 5000);
    src.end();
    await atEnd;
    expect(s.tryRead(100)!.length).toBe(10);
  });

  it("close() drops buffered data and keeps draining the producer", async () => {
    const s = new OutputStream("stdout", { waiting: false }, undefined, 1024);
    const src = source(50, 64 * 1024);
    s.attach(src);
    const out = sent(src);
    await tick();
    s.close();
    while (!src.readableEnded) await tick();
    expect(out.bytes).toBe(50 * 64 * 1024);
    expect(s.tryRead(10)).toBe(null);
  });
});
