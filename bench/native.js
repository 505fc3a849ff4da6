// Native executor: sequential exec+wait and stdout throughput, against raw Node spawn.
import { spawn } from "node:child_process";
import { Host } from "../dist/index.js";
import { compare, record, pairedRatio } from "./lib.js";

const EXECS = 200;
const GIB = 1024 ** 3;

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

export async function benchNative() {
  const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] } });
  try {
    const execLoop = `local sh = require("exec").get("bench:sh")
      for i = 1, ${EXECS} do local p = sh:exec({"/bin/true"}); p:start(); p:wait() end
      sh:release()`;
    const t = await compare({ lua: () => host.runString(execLoop), spawn: () => spawnLoop(EXECS) });
    record(`native: ${EXECS} × exec+wait /bin/true`, t.lua, t.spawn, "node spawn loop", 1.3, { ratio: pairedRatio(t, "lua", "spawn") });

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
