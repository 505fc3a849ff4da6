// CPU-bound Lua: `moonexec run` against plain wasmoon (same V8 flags, bench/cpu-plain.cjs)
// and native lua5.4, side by side; a row with --time-limit shows what the count hook costs.
// Each contender is a fresh process running the same file (start-up included, as a user
// runs it). Method and figures: docs/performance-cpu.md.
import { writeFileSync, mkdtempSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compare, record, run, pairedRatio, RUNS } from "./lib.js";

export const WORKLOADS = {
  "fib(32)": `local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
    print(fib(32))`,
  "1e8 loop": `local x = 0
    for i = 1, 1e8 do x = x + (i & 7) end
    print(x)`,
  "10 MB string building": `local parts = {}
    for i = 1, 10 * 1024 * 1024 / 16 do parts[#parts + 1] = string.format("%015d", i) end
    local s = table.concat(parts, "\\n")
    print(#s)`,
  "sort of 1e6": `local t = {}
    local x = 42
    for i = 1, 1e6 do x = (x * 1103515245 + 12345) % 2147483648; t[i] = x end
    table.sort(t)
    print(t[1], t[#t])`,
  "gsub over 5 MB": `local s = string.rep("the quick brown fox jumps over the lazy dog ", 5 * 1024 * 1024 // 44)
    local n = 0
    local out = s:gsub("%w+", function(w) n = n + 1; return w:upper() end)
    print(#out, n)`,
};

function haveLua() {
  try {
    execFileSync("lua5.4", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export async function benchCpu() {
  const dir = mkdtempSync(join(tmpdir(), "moonexec-bench-cpu-"));
  const bin = fileURLToPath(new URL("../bin/moonexec.js", import.meta.url));
  const plain = fileURLToPath(new URL("./cpu-plain.cjs", import.meta.url));
  const lua = haveLua();
  if (!lua) console.error("cpu: lua5.4 not found (Debian package lua5.4): no native rows");
  const runs = Number(process.env.BENCH_RUNS ?? Math.min(RUNS, 3));
  for (const [name, source] of Object.entries(WORKLOADS)) {
    const file = join(dir, `${name.replace(/\W+/g, "_")}.lua`);
    writeFileSync(file, source);
    const contenders = {
      moonexec: () => run(process.execPath, [bin, "run", file], { cwd: dir }),
      limited: () => run(process.execPath, [bin, "run", "--time-limit", "1000", file], { cwd: dir }),
      wasmoon: () => run(process.execPath, [plain, file], { cwd: dir }),
    };
    if (lua) contenders.lua = () => run("lua5.4", [file], { cwd: dir });
    console.error(`cpu: ${name}`);
    const t = await compare(contenders, runs);
    record(`cpu ${name}: moonexec run`, t.moonexec, t.wasmoon, "wasmoon", 1.15, { ratio: pairedRatio(t, "moonexec", "wasmoon") });
    record(`cpu ${name}: with --time-limit`, t.limited, t.wasmoon, "wasmoon", undefined, { ratio: pairedRatio(t, "limited", "wasmoon") });
    if (lua) record(`cpu ${name}: moonexec run vs native`, t.moonexec, t.lua, "lua5.4", 3.5, { ratio: pairedRatio(t, "moonexec", "lua") });
  }
  // What the signal handling of `moonexec run` costs per resume (docs/limits.md), reported.
  const waits = fileURLToPath(new URL("./cpu-waits.js", import.meta.url));
  console.error("cpu: 20 000 host waits");
  const w = await compare({ owned: () => run(process.execPath, [waits, "1"]), library: () => run(process.execPath, [waits, "0"]) }, runs);
  record("cpu 20 000 host waits: as moonexec run", w.owned, w.library, "library host", undefined, { ratio: pairedRatio(w, "owned", "library") });
}
