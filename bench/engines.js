// fengari against wasmoon, each on a library Host in this process: the native exec loop and the
// 1 GiB read (I/O-bound: target ≤ 1.2× wasmoon), start-up of `moonexec run`, and CPU-bound rows
// (reported, no target: fengari is Lua in JavaScript). CPU rows are smaller than bench/cpu.js's:
// at fengari's speed those take minutes a round.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Host } from "../dist/index.js";
import { compare, record, run, pairedRatio, RUNS } from "./lib.js";
import { EXECS, execLoopLua } from "./native.js";

const GIB = 1024 ** 3;
const CONFIG = { namespace: "bench", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] };

const readLoop = `local sh = require("exec").get("bench:sh")
  local p = sh:exec({"dd", "if=/dev/zero", "bs=1M", "count=1024", "status=none"}); p:start()
  local s, n = p:stdout_stream(), 0
  while true do local c = s:read() if not c then break end n = n + #c end
  assert(p:wait() == 0 and n == ${GIB}); sh:release()`;

export const CPU = {
  "fib(25)": `local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end print(fib(25))`,
  "1e6 loop": `local x = 0 for i = 1, 1e6 do x = x + (i & 7) end print(x)`,
  "1 MB string building": `local parts = {} for i = 1, 1024 * 1024 / 16 do parts[#parts + 1] = string.format("%015d", i) end print(#table.concat(parts, "\\n"))`,
  "sort of 1e5": `local t, x = {}, 42 for i = 1, 1e5 do x = (x * 1103 + 12345) % 65536; t[i] = x end table.sort(t) print(t[1])`,
};

export async function benchEngines() {
  const hosts = { wasmoon: await Host.create({ config: CONFIG, engine: "wasmoon" }), fengari: await Host.create({ config: CONFIG, engine: "fengari" }) };
  try {
    const loop = await compare({ fengari: () => hosts.fengari.runString(execLoopLua), wasmoon: () => hosts.wasmoon.runString(execLoopLua) }, Math.max(RUNS, 9), 3);
    record(`engines: ${EXECS} × exec+wait /bin/true, fengari`, loop.fengari, loop.wasmoon, "wasmoon", 1.2, { ratio: pairedRatio(loop, "fengari", "wasmoon") });
    const read = await compare({ fengari: () => hosts.fengari.runString(readLoop), wasmoon: () => hosts.wasmoon.runString(readLoop) });
    record("engines: 1 GiB stdout via read(), fengari", read.fengari, read.wasmoon, "wasmoon", 1.2, { ratio: pairedRatio(read, "fengari", "wasmoon") });
  } finally {
    await Promise.all(Object.values(hosts).map((h) => h.dispose()));
  }
  const dir = mkdtempSync(join(tmpdir(), "moonexec-bench-engines-"));
  const bin = fileURLToPath(new URL("../bin/moonexec.js", import.meta.url));
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const cli = (engine, file) => () => run(process.execPath, [bin, "run", "--engine", engine, file], { cwd: dir });
  for (const [name, source] of Object.entries({ "empty script (start-up)": "", ...CPU })) {
    const file = join(dir, `${name.replace(/\W+/g, "_")}.lua`);
    writeFileSync(file, source);
    console.error(`engines: ${name}`);
    const t = await compare({ fengari: cli("fengari", file), wasmoon: cli("wasmoon", file) }, runs);
    record(`engines: ${name}, fengari`, t.fengari, t.wasmoon, "wasmoon", undefined, { ratio: pairedRatio(t, "fengari", "wasmoon") });
  }
}
