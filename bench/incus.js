// Incus: sequential execs and stdout throughput against the incus CLI.
import { Host } from "../dist/index.js";
import { compare, execLoopLua, record, run, skip, streamVsCli, oneCommandVsCli, pairedRatio } from "./lib.js";

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
    const execLoop = execLoopLua("bench:box", EXECS);
    const cli = async () => {
      for (let i = 0; i < EXECS; i++) await run("incus", ["exec", INSTANCE, "--", "echo", "x"]);
    };
    const t = await compare({ lua: () => host.runString(execLoop), cli }, 3);
    record(`incus: ${EXECS} × exec echo x`, t.lua, t.cli, "incus exec CLI", 0.5, { ratio: pairedRatio(t, "lua", "cli") });

    await streamVsCli(host, "bench:box", "incus", `incus exec ${INSTANCE} --`, BYTES);
    await oneCommandVsCli(host, "bench:box", "incus", ["incus", "exec", INSTANCE, "--", "true"]);
  } finally {
    await host.dispose();
  }
}
