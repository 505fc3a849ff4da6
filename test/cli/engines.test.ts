/**
 * Engine selection and what differs between the engines where the host is concerned: the
 * flag, the variable and the option; refusals naming them; values beyond fengari's 32-bit
 * integers crossing as exact floats; and, without __gc, nothing left behind at dispose.
 */
import { Writable } from "node:stream";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { Host, type HostOptions } from "../../src/index.js";
import { runCli, tempDir } from "../helpers/cli.js";
import { gone, running } from "../helpers/procs.js";

const T = 30_000;
const CONFIG = { namespace: "t", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] };

function envWith(engine: string | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (engine === undefined) delete env.MOONEXEC_ENGINE;
  else env.MOONEXEC_ENGINE = engine;
  return env;
}

async function cli(args: string[], engineEnv?: string) {
  const dir = tempDir({ "main.lua": `print(_VERSION)` });
  const r = await runCli(args, { cwd: dir, env: envWith(engineEnv) });
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

async function withHost<T>(opts: HostOptions, body: (h: Host, out: () => string) => Promise<T>): Promise<T> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({ write: (c, _e, cb) => (chunks.push(c), cb()) });
  const host = await Host.create({ config: CONFIG, stdout, timeLimit: 20, ...opts });
  try {
    return await body(host, () => Buffer.concat(chunks).toString());
  } finally {
    await host.dispose();
  }
}

describe("choosing the engine", () => {
  it("run: --engine picks the engine, MOONEXEC_ENGINE when there is no flag, and the flag beats the variable", async () => {
    expect((await cli(["run", "main.lua"], undefined)).out).toBe("Lua 5.4\n");
    expect((await cli(["run", "--engine", "fengari", "main.lua"], undefined)).out).toBe("Lua 5.3\n");
    expect((await cli(["run", "main.lua"], "fengari")).out).toBe("Lua 5.3\n");
    expect((await cli(["run", "--engine", "wasmoon", "main.lua"], "fengari")).out).toBe("Lua 5.4\n");
  }, T);

  it("an unknown engine is a usage error (exit 2) naming the flag or the variable, and nothing runs", async () => {
    const flag = await cli(["run", "--engine", "luajit", "main.lua"], undefined);
    expect(flag).toMatchObject({ code: 2, out: "" });
    expect(flag.err).toContain(`--engine: unknown engine "luajit" (expected: wasmoon, fengari)`);
    const env = await cli(["run", "main.lua"], "luajit");
    expect(env).toMatchObject({ code: 2, out: "" });
    expect(env.err).toContain(`MOONEXEC_ENGINE: unknown engine "luajit"`);
    const repl = await cli(["repl", "--engine"], undefined);
    expect(repl.code).toBe(2);
    expect(repl.err).toContain("--engine: missing value");
  }, T);

  it("--memory-limit with fengari is refused before anything runs, naming the flag", async () => {
    const r = await cli(["run", "--engine", "fengari", "--memory-limit", "64M", "main.lua"], undefined);
    expect(r).toMatchObject({ code: 2, out: "" });
    expect(r.err).toContain("--memory-limit: the fengari engine cannot count the Lua heap");
  }, T);

  it("--version names both engines, the selected one first", async () => {
    const plain = await cli(["--version"], undefined);
    expect(plain.out).toMatch(/^moonexec \S+ \(engine wasmoon \d+\.\d+\.\d+, Lua 5\.4; also fengari 0\.1\.5, Lua 5\.3\)\n$/);
    const f = await cli(["--version"], "fengari");
    expect(f.out).toMatch(/^moonexec \S+ \(engine fengari 0\.1\.5, Lua 5\.3; also wasmoon /);
  }, T);

  it("Host.create: engine option, bad names and a memory limit on fengari are refused naming the option", async () => {
    await expect(Host.create({ config: CONFIG, engine: "luajit" as never })).rejects.toThrow(/^engine: unknown engine "luajit"/);
    await expect(Host.create({ config: CONFIG, engine: "fengari", memoryLimit: 1 << 26 })).rejects.toThrow(/^memoryLimit: the fengari engine/);
    for (const [engine, version] of [["fengari", "Lua 5.3"], ["wasmoon", "Lua 5.4"]] as const) {
      await withHost({ engine }, async (h) => expect(await h.runString("return _VERSION")).toEqual([version]));
    }
  }, T);
});

describe("values beyond 32 bits on fengari", () => {
  const BIG = [2 ** 31, 2 ** 40, Date.now(), 2 ** 53 - 1, -(2 ** 33)];

  it("cross from the host as exact floats (never a wrapped integer), and come back exact", async () => {
    const modules = { big: { values: () => BIG } };
    await withHost({ engine: "fengari", modules }, async (h) => {
      const [types, text, back] = await h.runString(`
        local v = require("big").values()
        local types, text = {}, {}
        for i, x in ipairs(v) do types[i] = math.type(x); text[i] = string.format("%.0f", x) end
        return table.concat(types, " "), table.concat(text, " "), v`);
      expect(types).toBe("float float float float float");
      expect(text).toBe(BIG.map((n) => n.toFixed(0)).join(" "));
      expect(back).toEqual(BIG);
    });
    // The same values are integers on wasmoon (64-bit).
    await withHost({ engine: "wasmoon", modules }, async (h) => {
      expect(await h.runString(`local t = {} for i, x in ipairs(require("big").values()) do t[i] = math.type(x) end return table.concat(t, " ")`)).toEqual([
        "integer integer integer integer integer",
      ]);
    });
  }, T);

  it("small values stay integers, and Lua's own 32-bit arithmetic is fengari's (documented, not hidden)", async () => {
    await withHost({ engine: "fengari", modules: { n: { small: () => 2 ** 31 - 1 } } }, async (h) => {
      expect(await h.runString(`return math.type(require("n").small()), 1 << 40, math.maxinteger`)).toEqual(["integer", 0, 2 ** 31 - 1]);
    });
  }, T);
});

describe("no finalizers on fengari: nothing is left behind", () => {
  it("a background process and an executor never released are ended at dispose", async () => {
    const marker = `sleep 60${(Math.random() + 1).toFixed(6).slice(1)}`; // unique in ps
    await withHost({ engine: "fengari" }, async (h) => {
      await h.runString(`
        local sh = assert(require("exec").get("t:sh"))
        for i = 1, 3 do assert(sh:exec({"${marker.split(" ").join('", "')}"}, { background = true })) end`);
      expect(running(marker).length).toBe(3);
    });
    expect(await gone(marker)).toEqual([]);
  }, T);

  it("many commands in one run never ask fengari's missing collector to run (it would raise an error)", async () => {
    await withHost({ engine: "fengari", timeLimit: 100 }, async (h, out) => {
      await h.runString(`
        local sh = assert(require("exec").get("t:sh"))
        for i = 1, 150 do local p = assert(sh:exec({"true"})); assert(p:start()); assert(p:wait() == 0) end
        sh:release()
        print(select(2, sh:exec({"true"})))`);
      expect(out()).toBe("CLOSED: executor t:sh was released\n");
    });
  }, 120_000);
});

describe("bulk output on fengari", () => {
  it("reads 64 MiB exactly; the collector it borrows leaves no `gc` behind for other code", async () => {
    await withHost({ engine: "fengari" }, async (h, out) => {
      await h.runString(`
        local sh = assert(require("exec").get("t:sh"))
        local p = sh:exec({"sh", "-c", "head -c 67108864 /dev/zero | tr '\\\\0' 'x'"}); assert(p:start())
        local s, n, bad = p:stdout_stream(), 0, 0
        while true do
          local c = s:read()
          if not c then break end
          n = n + #c
          if c:find("[^x]") then bad = bad + 1 end
        end
        print(p:wait(), n, bad)`);
      expect(out()).toBe("0\t67108864\t0\n");
    });
    expect(typeof (globalThis as { gc?: unknown }).gc).toBe("undefined");
    expect(runInNewContext("typeof gc")).toBe("undefined");
  }, T);
});
