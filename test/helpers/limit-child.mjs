// Runs one Lua source on a library Host in a process of its own (a regression that hangs the
// VM must fail its test, not the test runner). argv: mode ("time" | "cancel" | "memory"), source.
// Prints one JSON line: how the run ended, after how long, and whether the host still works.
import { Host, ScriptStop } from "../../dist/index.js";

const [mode, source] = process.argv.slice(2);
const options = { time: { timeLimit: 0.5 }, cancel: {}, memory: { memoryLimit: 16 * 1024 * 1024, timeLimit: 5 } };
const host = await Host.create(options[mode]);
const t0 = Date.now();
if (mode === "cancel") setTimeout(() => void host.cancel(), 300);
let ended;
try {
  await host.runString(source);
  ended = { kind: "returned" };
} catch (e) {
  ended = e instanceof ScriptStop ? { kind: e.kind, message: e.message } : { kind: "error", message: String(e) };
}
ended.ms = Date.now() - t0;
ended.after = await host.runString("return coroutine.wrap(function() local n = 0; for i = 1, 1000 do n = n + i end; return n end)()");
await host.dispose();
process.stdout.write(JSON.stringify(ended) + "\n");
