// A script that waits on the host 20 000 times in a row (a TypeScript module that answers at
// once), in a Host as `moonexec run` makes it (ownsProcess: signals during resumes, no count
// hook) or as a library makes it (count hook). `node bench/cpu-waits.js 1|0`; bench/cpu.js
// compares the two. The CLI's SIGINT and SIGTERM listeners are there, as in `moonexec run`.
import { Host } from "../dist/index.js";

const owns = process.argv[2] === "1";
const host = await Host.create({ ownsProcess: owns, modules: { m: { now: async () => 1 } } });
process.on("SIGINT", () => {});
process.on("SIGTERM", () => {});
try {
  await host.runString(`local m = require("m") for i = 1, 20000 do m.now() end`);
} finally {
  await host.dispose();
}
