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
const dist = (file: string) => JSON.stringify(new URL(`../../dist/${file}`, import.meta.url).href);
const RAISE = `(await import(${dist("stream/malloc-threshold.js")})).raiseMallocThresholds();`;
/**
 * A host runs one native command that writes `bytes` in one write (dd; `head -c` writes 8 KiB
 * at a time, and a reader that keeps up then never sees a bulk chunk) and reads it all.
 */
const hostReads = (bytes: number) => `{
  const { Host } = await import(${dist("index.js")});
  const host = await Host.create({ config: { namespace: "t", entries: [{ name: "sh", kind: "exec.native" }] } });
  await host.runString('local p = require("exec").get("t:sh"):exec({"dd", "if=/dev/zero", "bs=${bytes}", "count=1", "status=none"}); p:start(); assert(#p:stdout_stream():read_all() == ${bytes}); assert(p:wait() == 0)');
  await host.dispose();
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

  it("is done by a host on its commands' first bulk output, not for small output", () => {
    expect(heapGrowth(hostReads(1000))).toBeLessThan(8);
    expect(heapGrowth(hostReads(1024 * 1024))).toBeGreaterThanOrEqual(30);
  });
});
