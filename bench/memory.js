// Peak RSS while streaming 1 GiB (with a consumer that does some work per chunk) stays
// within +64 MB of idle: backpressure bounds what is buffered.
import { fileURLToPath } from "node:url";
import { run } from "./lib.js";
import { rows } from "./lib.js";

export async function benchMemory() {
  const child = fileURLToPath(new URL("./memory-child.js", import.meta.url));
  const { idleKB, peakKB } = JSON.parse(await run(process.execPath, [child]));
  const growthMB = (peakKB - idleKB) / 1024;
  const ok = growthMB <= 64 ? "yes" : "NO";
  rows.push({ name: "native: peak RSS streaming 1 GiB", ours: `+${growthMB.toFixed(1)} MB`, baseline: `${(idleKB / 1024).toFixed(0)} MB idle`, ratio: "", target: "≤ +64 MB", ok });
  console.error(`  peak RSS growth: +${growthMB.toFixed(1)} MB ${ok}`);
}
