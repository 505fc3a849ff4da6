// Why native exec costs what it costs (not part of `npm run bench`): `node bench/fork-faults.js`.
//
// After a fork, every page of the parent that is not excluded from the child is
// write-protected, so the parent's first write to each such page is a copy-on-write fault.
// This prints what one such fault costs here, then the faults and time per command of a
// bare spawn loop, an execa loop and the host's Lua loop, run side by side in one process,
// then what resident malloc'd memory adds to a spawn (fork copies its page tables).
import { ChildProcess } from "node:child_process";
import { Host } from "../dist/index.js";
import { median } from "./lib.js";
import { spawnLoop } from "./native.js";

const N = 200;
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);

/** Time to write one byte into each of 1000 resident pages right after a spawn, and again. */
async function faultCost() {
  const pages = 1000;
  const buf = Buffer.alloc((pages + 1) * 4096, 1); // malloc'd, so not excluded from fork
  const touch = () => {
    const t = performance.now();
    for (let i = 0; i < pages; i++) buf[i * 4096] = 2;
    return performance.now() - t;
  };
  const first = [], again = [];
  for (let r = 0; r < 7; r++) {
    await spawnLoop(1);
    first.push(touch());
    again.push(touch());
  }
  console.log(`write to a page after fork: ${((median(first) / pages) * 1000).toFixed(1)} µs; again: ${((median(again) / pages) * 1000).toFixed(2)} µs`);
}

let inSpawn = 0; // ms inside ChildProcess#spawn (fork + exec, which libuv waits for)
const spawnMethod = ChildProcess.prototype.spawn;
ChildProcess.prototype.spawn = function (...args) {
  const t = performance.now();
  try {
    return spawnMethod.apply(this, args);
  } finally {
    inSpawn += performance.now() - t;
  }
};

async function perCommand() {
  const { execa } = await import("execa");
  const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] } });
  const lua = `local sh = require("exec").get("bench:sh")
    for i = 1, ${N} do local p = sh:exec({"/bin/true"}); p:start(); p:wait() end sh:release()`;
  const loops = {
    "node spawn": () => spawnLoop(N),
    execa: async () => {
      for (let i = 0; i < N; i++) await execa("/bin/true", [], { detached: true, buffer: false, reject: false, cleanup: false, extendEnv: false, env: { PATH: process.env.PATH } });
    },
    "moonexec (Lua)": () => host.runString(lua),
  };
  const rows = Object.fromEntries(Object.keys(loops).map((k) => [k, []]));
  for (const f of Object.values(loops)) await f(); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, f] of Object.entries(loops)) {
      const r0 = process.resourceUsage();
      inSpawn = 0;
      const t = performance.now();
      await f();
      const wall = performance.now() - t;
      const r1 = process.resourceUsage();
      rows[name].push({ wall: wall / N, spawn: inSpawn / N, faults: (r1.minorPageFault - r0.minorPageFault) / N });
    }
  }
  await host.dispose();
  console.log("per command (medians):");
  for (const [name, rs] of Object.entries(rows)) {
    const m = (k) => median(rs.map((x) => x[k]));
    console.log(`  ${name.padEnd(15)} ${m("wall").toFixed(2)} ms, of which ${m("spawn").toFixed(2)} ms in spawn(); ${m("faults").toFixed(0)} page faults`);
  }
}

/** ms per bare spawn while the process holds 0, 64 and 128 MB more of written malloc'd memory. */
async function spawnVsResident() {
  const held = [];
  const line = [];
  for (const mb of [0, 64, 128]) {
    while (held.length < mb) held.push(Buffer.alloc(1024 * 1024, 1));
    await spawnLoop(10);
    const t = performance.now();
    await spawnLoop(50);
    line.push(`+${mb} MB: ${((performance.now() - t) / 50).toFixed(2)} ms`);
  }
  console.log(`spawn with more resident memory: ${line.join(", ")}`);
}

await faultCost();
await perCommand();
await spawnVsResident();
