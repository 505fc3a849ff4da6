// Incus: sequential execs and stdout throughput against the incus CLI.
import { spawn } from "node:child_process";
import { Host } from "../dist/index.js";
import { compare, record, run, skip } from "./lib.js";

const INSTANCE = "moonexec-test";
const EXECS = 100;
const BYTES = 256 * 1024 ** 2;

async function available() {
  try {
    const out = await run("incus", ["list", INSTANCE, "--format", "csv", "-c", "s"]);
    return out.trim() === "RUNNING" ? undefined : `instance ${INSTANCE} is not running`;
  } catch {
    return "incus daemon missing (run scripts/incus-setup.sh)";
  }
}

export async function benchIncus() {
  const why = await available();
  if (why) return skip("incus", why);
  const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "box", kind: "exec.incus", instance: INSTANCE }] } });
  try {
    const execLoop = `local ex = require("exec").get("bench:box")
      for i = 1, ${EXECS} do local p = ex:exec({"echo", "x"}); p:start(); p:stdout_stream():read_all(); p:wait() end
      ex:release()`;
    const cli = async () => {
      for (let i = 0; i < EXECS; i++) await run("incus", ["exec", INSTANCE, "--", "echo", "x"]);
    };
    const t = await compare({ lua: () => host.runString(execLoop), cli }, 3);
    record(`incus: ${EXECS} × exec echo x`, t.lua, t.cli, "incus exec CLI", 0.5);

    const readLoop = `local ex = require("exec").get("bench:box")
      local p = ex:exec({"dd", "if=/dev/zero", "bs=1048576", "count=${BYTES / 1024 ** 2}"}); p:start()
      local s, n = p:stdout_stream(), 0
      while true do local c = s:read() if not c then break end n = n + #c end
      assert(p:wait() == 0 and n == ${BYTES}, n); ex:release()`;
    const cliRead = () =>
      new Promise((resolve, reject) => {
        const c = spawn("sh", ["-c", `incus exec ${INSTANCE} -- dd if=/dev/zero bs=1048576 count=${BYTES / 1024 ** 2} 2>/dev/null | wc -c`], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        c.stdout.on("data", (d) => (out += d));
        c.on("close", () => (Number(out) === BYTES ? resolve() : reject(new Error(`incus exec | wc -c gave ${out}`))));
      });
    const r = await compare({ lua: () => host.runString(readLoop), cli: cliRead }, 3);
    const mbps = (ms) => BYTES / 1e6 / (ms / 1000);
    record("incus: 256 MiB stdout via read()", mbps(r.lua), mbps(r.cli), "incus exec | wc -c", 1.0, { unit: "MB/s", higherIsBetter: true });
  } finally {
    await host.dispose();
  }
}
