// Why the host raises glibc's malloc thresholds (not part of `npm run bench`):
// `node bench/malloc-faults.js` (after npm run build).
//
// Reads 1 GiB from `dd` the way a stream does (Node allocates a buffer per read, the reader
// holds some chunks and drops them in batches), in two child processes side by side: one as
// Node starts, one after raiseMallocThresholds(). Prints page faults and rate of each.
import { spawn, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median } from "./lib.js";

const GIB = 1024 ** 3;
const HOLD = 256 * 1024; // bytes held before a batch is dropped, like a read-ahead

async function child(tuned) {
  if (tuned) (await import("../dist/stream/malloc-threshold.js")).raiseMallocThresholds();
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  await new Promise((resolve, reject) => {
    const dd = spawn("dd", ["if=/dev/zero", "bs=1M", `count=${GIB / 1024 ** 2}`, "status=none"], { stdio: ["ignore", "pipe", "inherit"] });
    let held = [], size = 0;
    dd.stdout.on("data", (c) => {
      held.push(c);
      size += c.length;
      if (size >= HOLD) (held = []), (size = 0);
    });
    dd.on("error", reject);
    dd.on("close", resolve);
  });
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ faults: process.resourceUsage().minorPageFault - f0, mbps: GIB / 1e6 / (ms / 1000) }));
}

if (process.argv[2] === "child") await child(process.argv[3] === "1");
else {
  const self = fileURLToPath(import.meta.url);
  const res = { 0: [], 1: [] };
  for (let r = 0; r < Number(process.env.BENCH_RUNS ?? 5); r++) {
    for (const tuned of r % 2 ? [1, 0] : [0, 1]) res[tuned].push(JSON.parse(execFileSync(process.execPath, [self, "child", String(tuned)], { encoding: "utf8" })));
  }
  for (const tuned of [0, 1]) {
    const label = tuned ? "after raiseMallocThresholds()" : "as Node starts";
    console.log(`${label.padEnd(30)} page faults ${median(res[tuned].map((x) => x.faults)).toFixed(0).padStart(7)}   ${median(res[tuned].map((x) => x.mbps)).toFixed(0)} MB/s`);
  }
}
