// Runs in a fresh process: the first EXECS commands of a process, timed. argv[2] is "lua" (a
// Lua loop through a host) or "spawn" (Node's spawn loop). Both sides first load the same
// modules and open a native executor, so their processes are the same size (fork's cost
// grows with it); neither has run a command before the timed loop.
import { Host } from "../dist/index.js";
import { spawnLoop, EXECS, execLoopLua } from "./native.js";

const host = await Host.create({ config: { namespace: "bench", entries: [{ name: "sh", kind: "exec.native", default_env: { PATH: process.env.PATH } }] } });
await host.runString(`require("exec").get("bench:sh"):release()`);
const t0 = performance.now();
if (process.argv[2] === "lua") await host.runString(execLoopLua);
else await spawnLoop(EXECS);
const ms = performance.now() - t0;
await host.dispose();
process.stdout.write(String(ms));
