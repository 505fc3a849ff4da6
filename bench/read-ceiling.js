// What Node's own read path costs (not part of `npm run bench`): `node bench/read-ceiling.js`.
//
// Reads 1 GiB of `dd` output three ways, side by side: the child's stdout pipe with 'data'
// events (a fresh 64 KiB buffer per read), and a Unix socket handed to the child as its
// stdout, read with `onread` into one reused buffer, or into views of fresh 1 MiB slabs
// (never reused). The native executor reads the socket way after bulk output, into a ring
// it reuses (src/backend/native/recycling-reader.ts).
// Prints the rate, page faults and CPU of each, and what one socket pair costs to make.
import net from "node:net";
import { spawn } from "node:child_process";
import { median } from "./lib.js";
import { spawnRead } from "./native.js";
import { raiseMallocThresholds } from "../dist/stream/malloc-threshold.js";

raiseMallocThresholds(); // as a host does on its first bulk output

const GIB = 1024 ** 3;
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const DD = ["if=/dev/zero", "bs=1M", `count=${GIB / 1024 ** 2}`, "status=none"];

// Linux's abstract namespace: no file to clean up.
const path = `\0moonexec-read-ceiling-${process.pid}`;
const server = net.createServer();
const accepts = [];
server.on("connection", (s) => accepts.shift()?.(s));
await new Promise((resolve) => server.listen(path, resolve));

/** A connected pair: [our end, read with `onread` if given; the end for the child]. */
async function socketPair(onread) {
  const accepted = new Promise((resolve) => accepts.push(resolve));
  const ours = net.connect({ path, onread });
  await new Promise((resolve) => ours.once("connect", resolve));
  return [ours, await accepted];
}

/** Run dd with our socket pair as its stdout until our end sees EOF; `onread` counts. */
async function readThroughSocket(onread) {
  const [ours, theirs] = await socketPair(onread);
  const c = spawn("dd", DD, { stdio: ["ignore", theirs, "inherit"] });
  theirs.destroy(); // the child has its own copy
  await new Promise((resolve) => ours.on("end", resolve));
  ours.destroy();
  await new Promise((resolve) => c.on("close", resolve));
}

const reused = Buffer.allocUnsafe(64 * 1024);
async function viaReusedBuffer() {
  let n = 0;
  await readThroughSocket({ buffer: reused, callback: (nread) => void (n += nread) });
  return n;
}

/** onread into successive views of fresh 1 MiB slabs: nothing reused, fewer allocations. */
async function viaSlabs() {
  const SLAB = 1024 * 1024, READ = 64 * 1024;
  let slab = Buffer.allocUnsafeSlow(SLAB), at = 0, n = 0;
  const next = () => {
    if (SLAB - at < READ) [slab, at] = [Buffer.allocUnsafeSlow(SLAB), 0];
    return slab.subarray(at, at + READ);
  };
  await readThroughSocket({ buffer: next, callback: (nread) => void ((at += nread), (n += nread)) });
  return n;
}

const ways = { "'data' (fresh buffers)": () => spawnRead(GIB), "onread (one buffer)": viaReusedBuffer, "onread (fresh slabs)": viaSlabs };
const rows = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
for (let r = 0; r <= ROUNDS; r++) {
  for (const [name, f] of Object.entries(ways)) {
    const r0 = process.resourceUsage();
    const t = performance.now();
    const n = await f();
    const ms = performance.now() - t;
    const r1 = process.resourceUsage();
    if (n !== GIB) throw new Error(`${name}: read ${n} bytes`);
    if (r > 0) rows[name].push({ gbps: GIB / 1e6 / ms, faults: r1.minorPageFault - r0.minorPageFault, cpu: (r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime) / 1000 });
  }
}
console.log("1 GiB from dd (medians):");
for (const [name, rs] of Object.entries(rows)) {
  const m = (k) => median(rs.map((x) => x[k]));
  console.log(`  ${name.padEnd(23)} ${m("gbps").toFixed(2)} GB/s, ${m("faults").toFixed(0)} page faults, ${m("cpu").toFixed(0)} ms CPU`);
}
const t = performance.now();
for (let i = 0; i < 100; i++) for (const s of await socketPair()) s.destroy();
console.log(`one socket pair: ${((performance.now() - t) * 10).toFixed(0)} µs`);
server.close();
