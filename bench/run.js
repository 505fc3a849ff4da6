// `npm run bench`: every benchmark, each a ratio against what a user would use instead,
// measured side by side in one run (medians of interleaved runs; this machine is noisy).
//
// Each suite runs in its own Node process, as a script does: a host that has run the other
// suites first carries their heap and page state into the next (figures in
// docs/performance.md). `node bench/run.js incus` runs one suite in this process.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { benchNative } from "./native.js";
import { benchEngines } from "./engines.js";
import { benchStartup } from "./startup.js";
import { benchDocker } from "./docker.js";
import { benchIncus } from "./incus.js";
import { benchSsh } from "./ssh.js";
import { benchMemory } from "./memory.js";
import { benchCpu } from "./cpu.js";
import { closeLauncher, printTable, rows } from "./lib.js";

const suites = { startup: benchStartup, cpu: benchCpu, native: benchNative, engines: benchEngines, memory: benchMemory, docker: benchDocker, incus: benchIncus, ssh: benchSsh };
const only = process.argv[2];

if (only && !(only in suites)) {
  console.error(`unknown suite '${only}'; one of: ${Object.keys(suites).join(", ")}`);
  process.exit(2);
}

if (only) {
  try {
    console.error(`== ${only}`);
    await suites[only]();
    if (process.send) process.send({ rows }); // started by the run of all suites below
    else printTable();
  } finally {
    closeLauncher();
  }
} else {
  const self = fileURLToPath(import.meta.url);
  for (const name of Object.keys(suites)) {
    const child = fork(self, [name], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let got = false;
    child.on("message", (m) => {
      got = true;
      rows.push(...m.rows);
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    if (code !== 0 || !got) {
      rows.push({ name: `${name} suite`, ours: "failed", baseline: `exit ${code}`, ratio: "", target: "", ok: "NO" });
      process.exitCode = 1;
    }
  }
  printTable();
}
