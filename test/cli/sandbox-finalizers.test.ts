/**
 * Lua runs __gc finalizers with every hook off, where neither --time-limit nor Ctrl-C can stop
 * them. So a script must never get its own code run as the finalizer of exec objects: not by
 * editing their metatables, nor by replacing a global that the built-in modules call.
 * Run through the CLI so that a hang is a killed child, not a hung test worker.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "../..", "bin", "moonexec.js");

function run(lua: string) {
  const dir = mkdtempSync(join(tmpdir(), "mx-fin-"));
  const file = join(dir, "s.lua");
  writeFileSync(file, lua);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [BIN, "run", "--time-limit", "2", file], { encoding: "utf8", timeout: 20_000, killSignal: "SIGKILL" });
  return { ...r, ms: Date.now() - t0 };
}

// Objects made then dropped, then collected: each one's finalizer runs.
const CHURN = `local exec = require("exec")
for i = 1, 300 do local p = exec.get("local:shell"):exec({"true"}) end
collectgarbage(); collectgarbage()
print("collected")
while true do end`;

describe("finalizers of exec objects stay host code", () => {
  it("exec metatables are hidden from getmetatable and debug, and cannot be changed", () => {
    const r = run(`local exec = require("exec"); local p = exec.get("local:shell"):exec({"true"})
      print(getmetatable(p), debug.getmetatable(p), exec.Process)
      print(pcall(debug.setmetatable, p, {}))
      print(pcall(setmetatable, p, {}))
      print(pcall(debug.setmetatable, {}, nil))
      print(p:start(), p:wait())`);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toBe("exec.process\texec.process\tnil");
    expect(lines[1]).toMatch(/^false\t.*cannot change a protected metatable$/);
    expect(lines[2]).toMatch(/^false\t.*cannot change a protected metatable$/);
    expect(lines[3]).toMatch(/^true\ttable: /); // the script's own tables are unaffected
    expect(lines[4]).toBe("true\t0");
  }, 30_000);

  it("a replaced global (rawget) is not what exec's finalizer calls: the time limit still holds", () => {
    const r = run(`rawget = function() while true do end end\n` + CHURN);
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe("collected\n");
    expect(r.stderr).toContain("time limit of 2s exceeded");
    expect(r.status).toBe(1);
  }, 30_000);

  it("a replaced library function (collectgarbage, setmetatable) is not called as host code", () => {
    const r = run(`setmetatable = function() while true do end end
      collectgarbage = function() while true do end end\n` + CHURN.replace("collectgarbage(); collectgarbage()", ""));
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe("collected\n");
    expect(r.stderr).toContain("time limit of 2s exceeded");
  }, 30_000);
});
