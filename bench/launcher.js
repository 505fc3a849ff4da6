// Runs the benchmarks' external commands (the CLI baselines) on request from bench/lib.js.
//
// Why a separate process: on Linux, Node (libuv 1.46) starts a child with fork(), which
// write-protects every page of the parent; each page the parent writes afterwards costs a
// page fault. Started from the benchmark process itself, a baseline would slow the next Lua
// read in that process (figures in docs/performance.md) — a cost of the baseline charged to
// moonexec, which a user running a script never pays.
import { spawn } from "node:child_process";

process.on("message", ({ id, cmd, args, cwd }) => {
  let child;
  try {
    child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] });
  } catch (e) {
    process.send({ id, error: String(e?.message ?? e) });
    return;
  }
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.on("error", (e) => process.send({ id, error: e.message }));
  child.on("close", (code) => process.send({ id, code, out }));
});
