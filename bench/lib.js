// Shared helpers for the benchmarks: timing, medians, ratios, a results table.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";

export const RUNS = Number(process.env.BENCH_RUNS ?? 5);

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Time each contender RUNS times, interleaved so drift on a noisy machine hits both alike; the
 * order turns every round (AB, BA, AB...), so neither always runs right after the other (a
 * daemon may still be cleaning up the previous command). Each contender first runs `warmups`
 * times untimed. Returns each contender's median ms; `runs` (not enumerable) keeps every
 * time, for pairedRatio.
 */
export async function compare(contenders, runs = RUNS, warmups = 1) {
  const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
  for (let i = 0; i < warmups; i++) for (const [, fn] of Object.entries(contenders)) await fn();
  for (let i = 0; i < runs; i++) {
    const order = Object.entries(contenders);
    if (i % 2) order.reverse();
    for (const [name, fn] of order) {
      const t0 = performance.now();
      await fn();
      times[name].push(performance.now() - t0);
    }
  }
  const medians = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  return Object.defineProperty(medians, "runs", { value: times });
}

/**
 * Median of the per-round time ratios a/b. Each round runs the contenders back to back, so a
 * slow spell of this shared machine slows both sides of a round alike; the ratio of two
 * medians would mix rounds.
 */
export function pairedRatio(t, a, b) {
  return median(t.runs[a].map((x, i) => x / t.runs[b][i]));
}

let launcher;
const calls = new Map();
let nextCall = 0;

/** The process that starts external commands for us (see launcher.js for why). */
function getLauncher() {
  if (launcher) return launcher;
  launcher = fork(fileURLToPath(new URL("./launcher.js", import.meta.url)), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  launcher.on("message", ({ id, ...answer }) => {
    const call = calls.get(id);
    calls.delete(id);
    call?.(answer);
  });
  launcher.on("exit", (code) => {
    for (const call of calls.values()) call({ error: `bench launcher exited ${code}` });
    calls.clear();
    launcher = undefined;
  });
  return launcher;
}

/** Stop the launcher (at the end of a run; it would keep the process alive). */
export function closeLauncher() {
  launcher?.disconnect();
}

/**
 * Run a command to completion from the launcher process, not from this one; resolves with
 * stdout text. The time measured includes one message each way (well under a millisecond).
 */
export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const id = nextCall++;
    calls.set(id, ({ error, code, out }) => {
      if (error) reject(new Error(`${cmd}: ${error}`));
      else if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`));
      else resolve(out);
    });
    getLauncher().send({ id, cmd, args, cwd: opts.cwd });
  });
}

export const rows = [];

/**
 * One result line: ours vs theirs (lower is better for times). The target applies to the
 * ratio, or with `absolute` to our own figure (in `unit`).
 */
export function record(name, oursMs, theirsMs, theirsLabel, target, { higherIsBetter = false, unit = "ms", ratio = oursMs / theirsMs, absolute = false } = {}) {
  const judged = absolute ? oursMs : ratio;
  const ok = target === undefined ? "" : higherIsBetter ? (judged >= target ? "yes" : "NO") : judged <= target ? "yes" : "NO";
  const digits = unit === "GB/s" ? 2 : 1;
  const fig = (x) => `${x.toFixed(digits)} ${unit}`;
  // A third place where two would print the target itself (0.996 shown as "1.00", NO).
  const shown = target !== undefined && !absolute && ratio.toFixed(2) === target.toFixed(2) ? ratio.toFixed(3) : ratio.toFixed(2);
  rows.push({ name, ours: fig(oursMs), baseline: `${fig(theirsMs)} (${theirsLabel})`, ratio: shown, target: target === undefined ? "" : `${higherIsBetter ? "≥" : "≤"} ${target}${absolute ? ` ${unit}` : ""}`, ok });
  console.error(`  ${name}: ${absolute ? `${fig(oursMs)}, ` : ""}${shown}× ${ok}`);
}

export function skip(name, reason) {
  rows.push({ name, ours: "skipped", baseline: reason, ratio: "", target: "", ok: "" });
  console.error(`  ${name}: skipped (${reason})`);
}

export function printTable() {
  const cols = ["name", "ours", "baseline", "ratio", "target", "ok"];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(c.length, ...rows.map((r) => String(r[c]).length))]));
  const line = (r) => "| " + cols.map((c) => String(r[c]).padEnd(width[c])).join(" | ") + " |";
  console.log(line(Object.fromEntries(cols.map((c) => [c, c]))));
  console.log("| " + cols.map((c) => "-".repeat(width[c])).join(" | ") + " |");
  for (const r of rows) console.log(line(r));
}

/** Lua loop: `count` sequential execs of `echo x` on executor `id`, reading stdout, waiting. */
export function execLoopLua(id, count) {
  return `local ex = require("exec").get("${id}")
    for i = 1, ${count} do local p = ex:exec({"echo", "x"}); p:start(); p:stdout_stream():read_all(); p:wait() end
    ex:release()`;
}

/**
 * Stream `bytes` of zeros from `dd` through executor `id`, read with stream:read() in Lua,
 * against the CLI `cliPrefix dd ... | wc -c`; records MB/s of both and their ratio.
 * The executor is acquired before timing and released after: the CLI streams from a
 * container that is already running, and acquiring one (a Docker container is created
 * and removed) is measured on its own by oneCommandVsCli.
 */
export async function streamVsCli(host, id, label, cliPrefix, bytes) {
  const mib = bytes / 1024 ** 2;
  await host.runString(`BENCH_EX = require("exec").get("${id}")`);
  const lua = `local p = BENCH_EX:exec({"dd", "if=/dev/zero", "bs=1048576", "count=${mib}"}); p:start()
    local s, n = p:stdout_stream(), 0
    while true do local c = s:read() if not c then break end n = n + #c end
    assert(p:wait() == 0 and n == ${bytes}, n)`;
  const cli = async () => {
    const out = await run("sh", ["-c", `${cliPrefix} dd if=/dev/zero bs=1048576 count=${mib} 2>/dev/null | wc -c`]);
    if (Number(out) !== bytes) throw new Error(`${cliPrefix} | wc -c gave ${out}`);
  };
  try {
    const r = await compare({ lua: () => host.runString(lua), cli });
    const mbps = (ms) => bytes / 1e6 / (ms / 1000);
    const ratio = 1 / pairedRatio(r, "lua", "cli"); // a rate: theirs time over ours
    record(`${label}: ${mib} MiB stdout via read()`, mbps(r.lua), mbps(r.cli), `${cliPrefix.split(" ").slice(0, 2).join(" ")} | wc -c`, 1.0, { unit: "MB/s", higherIsBetter: true, ratio });
  } finally {
    await host.runString(`BENCH_EX:release() BENCH_EX = nil`);
  }
}

/**
 * A whole one-command script — exec.get, run `true`, release — against one CLI call
 * (`cli` as argv). No target: it shows what acquiring an executor costs.
 */
export async function oneCommandVsCli(host, id, label, cli) {
  const lua = `local ex = require("exec").get("${id}"); local p = ex:exec({"true"}); p:start()
    assert(p:wait() == 0); ex:release()`;
  const t = await compare({ lua: () => host.runString(lua), cli: () => run(cli[0], cli.slice(1)) });
  record(`${label}: get, exec true, release`, t.lua, t.cli, cli.slice(0, 2).join(" ") + " CLI", undefined, { ratio: pairedRatio(t, "lua", "cli") });
}
