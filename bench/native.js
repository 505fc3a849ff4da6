// Native executor: sequential exec+wait and stdout throughput, against raw Node spawn.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Host } from "../dist/index.js";
import { compare, record, pairedRatio, run, RUNS, median } from "./lib.js";

export const EXECS = 200;
const GIB = 1024 ** 3;
/**
 * Loops run untimed before the exec row's rounds. V8's optimizing compiler works through
 * execa's and our code for the first ~1000 commands of a process, on the second core and in
 * memory that faults after every fork; execa alone shows the same curve, Node's spawn loop
 * (little code) does not. The row measures the settled state; the cold row beside it, the
 * first commands of a new process.
 */
const EXEC_WARMUPS = 5;
/** Its per-round ratios spread most of all rows: more rounds. */
const EXEC_ROUNDS = Math.max(RUNS, 15);

export const execLoopLua = `local sh = require("exec").get("bench:sh")
  for i = 1, ${EXECS} do local p = sh:exec({"/bin/true"}); p:start(); p:wait() end
  sh:release()`;

/** `n` sequential spawns of /bin/true, each awaited until 'close' (the raw Node baseline). */
export function spawnLoop(n) {
  return (async () => {
    for (let i = 0; i < n; i++) {
      await new Promise((resolve, reject) => {
        const c = spawn("/bin/true", [], { stdio: ["pipe", "pipe", "pipe"] });
        c.on("error", reject);
        c.on("close", resolve);
      });
    }
  })();
}

/** Spawn `dd` for `bytes` of zeros and count its stdout through 'data' (the raw Node baseline). */
export function spawnRead(bytes) {
  return new Promise((resolve) => {
    const c = spawn("dd", ["if=/dev/zero", "bs=1M", `count=${bytes / 1024 ** 2}`, "status=none"]);
    let n = 0;
    c.stdout.on("data", (d) => (n += d.length));
    c.on("close", () => resolve(n));
  });
}

/** The first EXECS commands of new processes (native-cold-child.js), one pair per round. */
async function coldExecs() {
  const child = fileURLToPath(new URL("./native-cold-child.js", import.meta.url));
  const first = (mode) => run(process.execPath, [child, mode]).then(Number);
  const lua = [], spawned = [];
  for (let i = 0; i < RUNS; i++) {
    // The order turns every round, as in compare().
    if (i % 2) spawned.push(await first("spawn")), lua.push(await first("lua"));
    else lua.push(await first("lua")), spawned.push(await first("spawn"));
  }
  const ratio = median(lua.map((x, i) => x / spawned[i]));
  record(`native: first ${EXECS} exec+wait of a process`, median(lua), median(spawned), "its first spawn loop", undefined, { ratio });
}

export async function benchNative() {
  const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] } });
  try {
    const t = await compare({ lua: () => host.runString(execLoopLua), spawn: () => spawnLoop(EXECS) }, EXEC_ROUNDS, EXEC_WARMUPS);
    record(`native: ${EXECS} × exec+wait /bin/true`, t.lua, t.spawn, "node spawn loop", 1.3, { ratio: pairedRatio(t, "lua", "spawn") });
    await coldExecs();

    const readLoop = `local sh = require("exec").get("bench:sh")
      local p = sh:exec({"dd", "if=/dev/zero", "bs=1M", "count=1024", "status=none"}); p:start()
      local s, n = p:stdout_stream(), 0
      while true do local c = s:read() if not c then break end n = n + #c end
      assert(p:wait() == 0 and n == ${GIB}); sh:release()`;
    const r = await compare({ lua: () => host.runString(readLoop), spawn: () => spawnRead(GIB) });
    const gbps = (ms) => GIB / 1e9 / (ms / 1000);
    record("native: 1 GiB stdout via read()", gbps(r.lua), gbps(r.spawn), "node spawn 'data'", 1, { unit: "GB/s", higherIsBetter: true, absolute: true, ratio: 1 / pairedRatio(r, "lua", "spawn") });
    return { gbps: gbps(r.lua) };
  } finally {
    await host.dispose();
  }
}
