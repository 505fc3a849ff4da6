/** examples/custom-backend runs with the command docs/library.md gives: a custom kind serves require("exec"). */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

it("the custom-backend example compiles, runs commands on its own kind and refuses a bad entry", () => {
  const command = "npx tsc -p examples/custom-backend && node examples/custom-backend/out/main.js";
  expect(readFileSync(join(ROOT, "docs/library.md"), "utf8")).toContain(command);
  const out = execFileSync("sh", ["-c", command], { cwd: ROOT, encoding: "utf8", timeout: 90_000 });
  expect(out).toBe(
    [
      "hostname: 0 web-1",
      "uname -s: 0 Linux",
      "reboot: 127 canned: no reply for 'reboot'",
      "config error: config object: entry 'demo:db': field 'replies' is required for kind example.canned",
      "done",
      "",
    ].join("\n"),
  );
}, 120_000);
