/**
 * Released executors are forgotten: after get/exec/release cycles in a host that stays alive,
 * no executor object survives a full garbage collection (before, Registry.live kept every one
 * until releaseAll()). Counted with WeakRefs, so the result does not depend on heap noise.
 */
import { describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Host } from "../../src/lua/host.js";
import type { Executor } from "../../src/registry/executor.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const CYCLES = 100;

describe("released executors are forgotten", () => {
  it(`no executor of ${CYCLES} get/exec/release cycles is retained by a live host`, async () => {
    const host = await Host.create({ config: { namespace: "leak", entries: [{ name: "box", kind: "exec.native", default_env: { PATH: process.env.PATH } }] } });
    const made: WeakRef<Executor>[] = [];
    const get = host.registry.get.bind(host.registry);
    host.registry.get = async (id: string) => {
      const ex = await get(id);
      made.push(new WeakRef(ex));
      return ex;
    };
    try {
      await host.runString(`
        local exec = require("exec")
        for i = 1, ${CYCLES} do
          local ex = assert(exec.get("leak:box"))
          local p = assert(ex:exec({"true"}))
          assert(p:start())
          assert(p:wait() == 0)
          assert(ex:release())
        end
        collectgarbage(); collectgarbage()
      `);
      expect(made.length).toBe(CYCLES);
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 10));
        gc();
      }
      const alive = made.filter((w) => w.deref() !== undefined).length;
      expect(alive).toBe(0);
    } finally {
      await host.dispose();
    }
  }, 120_000);
});
