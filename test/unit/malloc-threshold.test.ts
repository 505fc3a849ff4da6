/**
 * raiseMallocThresholds(): after it (and the GC that frees its block), glibc serves
 * mid-sized blocks from the heap instead of mapping each one, and keeps freed memory instead
 * of shrinking the heap. Checked in a child process through /proc/self/maps: the [heap]
 * region must take in 16 × 2 MiB buffers that, as Node starts, would each be an mmap.
 * An output stream raises them on its first bulk chunk, and not for small output: raised at
 * start-up, the memory that start-up frees would stay with every process.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
const dist = (file: string) => JSON.stringify(new URL(`../../dist/stream/${file}`, import.meta.url).href);
const RAISE = `(await import(${dist("malloc-threshold.js")})).raiseMallocThresholds();`;
/** Feed an output stream `count` chunks of `bytes` each. */
const feed = (count: number, bytes: number) => `{
  const { OutputStream } = await import(${dist("output-stream.js")});
  const s = new OutputStream("stdout", { waiting: true }, undefined);
  for (let i = 0; i < ${count}; i++) s.feed(Buffer.alloc(${bytes}));
}`;

/** [heap] growth (MiB) over 16 live 2 MiB buffers, in a fresh process, after `setup`. */
function heapGrowth(setup: string): number {
  const script = `
    const heap = () => { const l = require("fs").readFileSync("/proc/self/maps", "utf8").split("\\n").find((x) => x.endsWith("[heap]"));
      if (!l) return 0; const [a, b] = l.split(" ")[0].split("-").map((h) => parseInt(h, 16)); return (b - a) / 1048576; };
    (async () => {
      ${setup}
      global.gc(); global.gc();
      const before = heap(); const keep = [];
      for (let i = 0; i < 16; i++) keep.push(Buffer.allocUnsafeSlow(2 * 1048576));
      console.log(heap() - before, keep.length); // keep stays live until measured
    })();`;
  const out = execFileSync(process.execPath, ["--expose-gc", "-e", script], { encoding: "utf8" });
  return Number(out.trim().split(" ")[0]);
}

describe.skipIf(process.platform !== "linux" || !glibc)("raiseMallocThresholds (glibc)", () => {
  it("moves 2 MiB blocks onto the heap: they are mapped one by one as Node starts", () => {
    expect(heapGrowth("")).toBeLessThan(8);
    expect(heapGrowth(RAISE)).toBeGreaterThanOrEqual(30);
  });

  it("is done by an output stream on its first bulk chunk, not for small output", () => {
    expect(heapGrowth(feed(200, 1024))).toBeLessThan(8);
    expect(heapGrowth(feed(1, 64 * 1024))).toBeGreaterThanOrEqual(30);
  });
});
