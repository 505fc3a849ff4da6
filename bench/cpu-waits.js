// A script that waits on the host 20 000 times in a row (a TypeScript module that answers at
// once), in a Host as `moonexec run` makes it (ownsProcess: signals during resumes, no count
// hook) or as a library makes it (count hook). `node bench/cpu-waits.js 1|0`; bench/cpu.js
// compares the two. SIGINT goes to a handler through the held watchdog, as in `moonexec run`.
import { Host } from "../dist/index.js";
import { watchRunSigint } from "../dist/lua/resume-signals.js";

const owns = process.argv[2] === "1";
const host = await Host.create({ ownsProcess: owns, modules: { m: { now: async () => 1 } } });
const unwatch = owns ? watchRunSigint(() => host.interrupt()) : () => {};
try {
  await host.runString(`local m = require("m") for i = 1, 20000 do m.now() end`);
} finally {
  await host.dispose();
  unwatch();
}
