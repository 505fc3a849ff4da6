// `npm run soak [-- native|docker|incus [cycles]]`: get/exec/release cycles in one long-lived
// host, asserting that the V8 heap (after a full GC), the open file descriptors and the
// watchdog's list of process groups stay flat. Not part of `npm test`: it takes minutes.
//
// Default cycles: native 10 000, Incus 1000, Docker 200 (a container per executor). Docker and
// Incus are skipped with the reason when their daemon (or the test instance) is missing.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import { Host } from "../dist/index.js";
import { watchedGroups } from "../dist/backend/native/watchdog.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

const INCUS_ENV = "/var/lib/moonexec-test/incus/env";
const DEFAULT_CYCLES = { native: 10000, incus: 1000, docker: 200 };
const BATCHES = 10;
/** Allowed growth from the first measured batch to the last. */
const MAX_HEAP_GROWTH = 1024 * 1024;
const MAX_FD_GROWTH = 2;

function entries() {
  const list = [{ name: "native", kind: "exec.native", default_env: { PATH: process.env.PATH } }];
  if (existsSync("/var/run/docker.sock")) list.push({ name: "docker", kind: "exec.docker", image: process.env.MOONEXEC_TEST_IMAGE ?? "moonexec-test:busybox" });
  if (existsSync(INCUS_ENV)) {
    const env = Object.fromEntries(readFileSync(INCUS_ENV, "utf8").split("\n").map((l) => /^([A-Z_]+)=(.*)$/.exec(l)).filter(Boolean).map((m) => [m[1], m[2]]));
    list.push({ name: "incus", kind: "exec.incus", instance: env.INCUS_TEST_INSTANCE, remote: `unix:${env.INCUS_TEST_SOCKET}` });
  }
  return list;
}

const fds = () => readdirSync("/proc/self/fd").length;

async function settle() {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
}

async function soak(host, backend, cycles) {
  const batch = Math.max(1, Math.round(cycles / BATCHES));
  const cycle = `local exec, n = require("exec"), ...
    for i = 1, n do
      local ex = assert(exec.get("soak:${backend}"))
      local p = assert(ex:exec({"true"}))
      assert(p:start())
      assert(p:wait() == 0)
      assert(ex:release())
    end
    collectgarbage(); collectgarbage()`;
  const samples = [];
  const t0 = Date.now();
  for (let b = 0; b <= BATCHES; b++) {
    // Batch 0 warms up (JIT, first-use caches) and is not measured.
    await host.runString(cycle.replace("...", String(batch)));
    await settle();
    samples.push({ heap: process.memoryUsage().heapUsed, fds: fds(), groups: watchedGroups() });
    if (process.env.SOAK_SNAPSHOTS && (b === 1 || b === BATCHES)) console.error(`  snapshot ${writeHeapSnapshot(`${process.env.SOAK_SNAPSHOTS}/${backend}-${b}.heapsnapshot`)}`);
    if (process.env.SOAK_VERBOSE) console.error(`  ${backend} batch ${b}: heap ${(samples[b].heap / 1e6).toFixed(3)} MB, fds ${samples[b].fds}`);
  }
  const first = samples[1];
  const last = samples[samples.length - 1];
  const done = batch * BATCHES;
  const perCycle = (last.heap - first.heap) / done;
  const line = `${backend}: ${done} cycles in ${((Date.now() - t0) / 1000).toFixed(0)} s; heap ${(first.heap / 1e6).toFixed(2)} -> ${(last.heap / 1e6).toFixed(2)} MB (${perCycle.toFixed(1)} B/cycle); fds ${first.fds} -> ${last.fds}; watched groups ${last.groups}`;
  const ok = last.heap - first.heap <= MAX_HEAP_GROWTH && last.fds - first.fds <= MAX_FD_GROWTH && last.groups === 0;
  console.log(`${ok ? "held" : "FAILED"}  ${line}`);
  return ok;
}

async function available(host, backend) {
  try {
    await host.runString(`local ex = assert(require("exec").get("soak:${backend}")); local p = assert(ex:exec({"true"})); assert(p:start()); assert(p:wait() == 0); ex:release()`);
    return undefined;
  } catch (e) {
    return e.message;
  }
}

const only = process.argv[2];
const cyclesArg = process.argv[3] ? Number(process.argv[3]) : undefined;
const host = await Host.create({ config: { namespace: "soak", entries: entries() } });
let failed = false;
try {
  for (const backend of only ? [only] : ["native", "docker", "incus"]) {
    const why = (await host.registry.ids()).includes(`soak:${backend}`) ? await available(host, backend) : "not configured here";
    if (why) {
      console.log(`skipped ${backend}: ${why}`);
      continue;
    }
    if (!(await soak(host, backend, cyclesArg ?? DEFAULT_CYCLES[backend]))) failed = true;
  }
} finally {
  await host.dispose();
}
process.exit(failed ? 1 : 0);
