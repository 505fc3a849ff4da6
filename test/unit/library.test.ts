/** The library API for plugin hosts: options, plugins, TypeScript modules, dispose. */
import { Writable } from "node:stream";
import { execFileSync } from "node:child_process";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { Host, multi, ExecError, type AuditEvent } from "../../src/index.js";
import { tempDir } from "../helpers/cli.js";

function sink() {
  const chunks: Buffer[] = [];
  const w = new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) });
  return { w, text: () => Buffer.concat(chunks).toString() };
}

describe("library API", () => {
  it("loads a plugin, calls its functions with JS values, registers TS modules, audits execs", async () => {
    const out = sink();
    const audit: AuditEvent[] = [];
    const dir = tempDir({
      "plugin.lua": `
        local app = require("app")
        local exec = require("exec")
        local sh = assert(exec.get("tools:sh"))
        local M = {}
        function M.greet(who) return app.prefix() .. who, #who end
        function M.sum(t) local s = 0 for _, v in ipairs(t.values) do s = s + v end return s end
        function M.run(cmd) local p = assert(sh:exec(cmd)); p:start(); return p:stdout_stream():read_all(), (p:wait()) end
        function M.slow() return app.later(5) end
        function M.fail() local v, err = app.boom() return err.kind .. "|" .. err.message end
        function M.say(x) print("said", x) end
        return M`,
    });
    const host = await Host.create({
      config: { namespace: "tools", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] },
      stdout: out.w,
      audit: (e) => audit.push(e),
      modules: {
        app: {
          prefix: () => "hello, ",
          later: async (n: number) => {
            await new Promise((r) => setTimeout(r, 20));
            return multi(n * 2, "done");
          },
          boom: () => {
            throw new ExecError("NOT_FOUND", "no such thing");
          },
        },
      },
    });
    try {
      const plugin = await host.loadPlugin(`${dir}/plugin.lua`);
      expect(await plugin.callMulti("greet", "moon")).toEqual(["hello, moon", 4]);
      expect(await plugin.call("sum", { values: [1, 2, 3.5] })).toBe(6.5);
      expect(await plugin.callMulti("run", "echo hi")).toEqual(["hi\n", 0]);
      expect(await plugin.callMulti("slow")).toEqual([10, "done"]);
      expect(await plugin.call("fail")).toBe("NOT_FOUND|no such thing");
      await plugin.call("say", "x");
      expect(out.text()).toBe("said\tx\n");
      await expect(plugin.call("missing")).rejects.toThrow("plugin has no exported function 'missing'");
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ executor: "tools:sh", kind: "exec.native", argv: ["echo", "hi"], exit_code: 0 });
    } finally {
      await host.dispose();
    }
  });

  it("two plugins share one host; calls in parallel are serialized safely", async () => {
    const dir = tempDir({ "a.lua": `return { name = function() return "a" end }`, "b.lua": `local n = ... return { name = function() return "b" .. n end }` });
    const host = await Host.create();
    const [a, b] = [await host.loadPlugin(`${dir}/a.lua`), await host.loadPlugin(`${dir}/b.lua`, 7)];
    expect(await Promise.all([a.call("name"), b.call("name"), a.call("name")])).toEqual(["a", "b7", "a"]);
    await host.dispose();
  });

  it("dispose() stops every process the plugins started", async () => {
    const dir = tempDir({ "p.lua": `local sh = require("exec").get("local:shell") return { start = function() local p = sh:exec("sleep 103.25"); p:start(); return p:pid() end }` });
    const host = await Host.create();
    const plugin = await host.loadPlugin(`${dir}/p.lua`);
    const pid = (await plugin.call("start")) as number;
    expect(() => process.kill(pid, 0)).not.toThrow();
    await host.dispose();
    await new Promise((r) => setTimeout(r, 100));
    let stat = "";
    try {
      stat = execFileSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).trim();
    } catch {
      /* ps exits 1 when the pid is gone */
    }
    expect(stat === "" || stat.startsWith("Z")).toBe(true);
  });

  it("dispose() frees the VM, also with a run still waiting: hosts come and go without growing memory", async () => {
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const heapBytes = (h: Host) => (h as unknown as { engine: { m: { HEAPU8: Uint8Array } } }).engine.m.HEAPU8.length; // the wasm heap (src/lua/engine/wasmoon.ts)
    let first = 0;
    let last = 0;
    for (let i = 0; i < 25; i++) {
      const host = await Host.create({ stdout: quiet });
      await host.runString(`local t = {} for i = 1, 20000 do t[i] = tostring(i) .. "x" end keep = t`);
      const waiting = host.runString(`require("task").sleep(30)`).catch((e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 5));
      await host.dispose();
      expect(await waiting).toContain("host disposed");
      last = heapBytes(host); // all hosts share one wasm module: its memory is the measure
      if (i === 4) first = last;
    }
    // Each host keeps ~1.3 MB here; unclosed, 20 more would add ~25 MB.
    expect(last - first).toBeLessThan(4 * 1024 * 1024);
  });

  it("a disposed host can be collected: its C functions leave the shared wasm table", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // In a function of its own, so no stack slot of this test keeps the host.
    const useAndDispose = async () => {
      const host = await Host.create({ config: { namespace: "t", entries: [{ name: "sh", kind: "exec.native" }] } });
      await host.runString(`local p = require("exec").get("t:sh"):exec({"/bin/true"}); p:start(); assert(p:wait() == 0)`);
      await host.dispose();
      return new WeakRef(host);
    };
    const refs = [await useAndDispose(), await useAndDispose(), await useAndDispose()];
    for (let i = 0; i < 5 && refs.some((r) => r.deref()); i++) {
      await new Promise((r) => setTimeout(r, 10));
      gc();
    }
    // Every host of a process shares one wasm module; a function left in its table (a native,
    // the scheduler's hook) keeps the host and all it held. Before the fix all three stayed.
    expect(refs.filter((r) => r.deref() !== undefined)).toHaveLength(0);
  });

  it("a script that runs many commands does not pile up finished processes: Lua collects when handles double", async () => {
    const host = await Host.create({ config: { namespace: "t", entries: [{ name: "sh", kind: "exec.native" }] } });
    const live = () => (host as unknown as { handles: { map: Map<number, unknown> } }).handles.map.size;
    try {
      let peak = 0;
      for (let round = 0; round < 6; round++) {
        await host.runString(`local sh = require("exec").get("t:sh")
          for i = 1, 50 do local p = sh:exec({"true"}); p:start(); p:stdout_stream(); assert(p:wait() == 0) end`);
        peak = Math.max(peak, live());
      }
      // 300 commands made ~600 objects (process and stream) that the script dropped at once.
      // Lua alone collected them late: ~200 per 100 commands stayed, each holding a finished
      // process. Now a collection comes once the live handles reach 128.
      expect(peak).toBeLessThan(160);
    } finally {
      await host.dispose();
    }
  });

  it("host waits leave nothing behind: a long-lived host's JS heap stays flat over 20000 waits", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const host = await Host.create({ config: { namespace: "t", entries: [{ name: "sh", kind: "exec.native" }] } });
    try {
      await host.runString(`P = require("exec").get("t:sh"):exec({"/bin/true"}); P:start(); assert(P:wait() == 0)`);
      // wait() on an ended command still goes through a host wait (yield, settle, resume).
      const waits = (n: number) => host.runString(`for i = 1, ${n} do assert(P:wait() == 0) end`);
      await waits(2000);
      gc();
      const before = process.memoryUsage().heapUsed;
      await waits(20000);
      gc();
      // Racing a long-lived promise per wait kept ~300 bytes each: ~6 MB here.
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(1024 * 1024);
    } finally {
      await host.dispose();
    }
  });

  it("time limit applies per call", async () => {
    const dir = tempDir({ "p.lua": `return { spin = function() while true do end end, ok = function() return 1 end }` });
    const host = await Host.create({ timeLimit: 0.3 });
    const plugin = await host.loadPlugin(`${dir}/p.lua`);
    await expect(plugin.call("spin")).rejects.toThrow("time limit of 0.3s exceeded");
    expect(await plugin.call("ok")).toBe(1); // the host survives
    await host.dispose();
  });
});
