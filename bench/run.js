// `npm run bench`: every benchmark, each a ratio against what a user would use instead,
// measured side by side in one run (medians of interleaved runs; this machine is noisy).
import { benchNative } from "./native.js";
import { benchStartup } from "./startup.js";
import { benchDocker } from "./docker.js";
import { benchIncus } from "./incus.js";
import { benchMemory } from "./memory.js";
import { closeLauncher, printTable } from "./lib.js";

const only = process.argv[2];
const suites = { startup: benchStartup, native: benchNative, memory: benchMemory, docker: benchDocker, incus: benchIncus };
for (const [name, fn] of Object.entries(suites)) {
  if (only && only !== name) continue;
  console.error(`== ${name}`);
  await fn();
}
printTable();
closeLauncher();
