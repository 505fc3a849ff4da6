/** examples/plugin-host runs with the command docs/library.md gives, and prints what it says. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

it("the plugin-host example compiles, loads two plugins, calls them and disposes", () => {
  const command = "npx tsc -p examples/plugin-host && node examples/plugin-host/out/main.js";
  expect(readFileSync(join(ROOT, "docs/library.md"), "utf8")).toContain(command);
  const out = execFileSync("sh", ["-c", command], { cwd: ROOT, encoding: "utf8", timeout: 90_000 });
  const line = (prefix: string) => {
    const l = out.split("\n").find((x) => x.startsWith(`${prefix}: `));
    expect(l, `${prefix} in:\n${out}`).toBeDefined();
    return l!.slice(prefix.length + 2);
  };
  expect(line("text.shout")).toBe("HELLO!");
  expect(JSON.parse(line("text.stats"))).toEqual({ words: 5, chars: 25, long: ["quick", "brown", "jumps"] });
  expect(JSON.parse(line("text.greeting"))).toEqual(["Hello, Ada", 3]);
  expect(JSON.parse(line("system.kernel"))).toEqual(["Linux", 0]);
  expect(JSON.parse(line("system.count_words"))).toEqual([4, 0]);
  expect(line("system.forbidden")).toMatch(/^PERMISSION_DENIED: command "rm -rf \/tmp\/nothing-here" is not in the command_whitelist of demo:sh$/);
  expect(JSON.parse(line("app.log"))).toEqual(["greeted Ada", "wc -w exited 0"]);
  expect(out).toContain('audit: demo:sh ["uname","-s"] exit 0\naudit: demo:sh ["wc","-w"] exit 0\n');
  expect(out.trimEnd().endsWith("disposed")).toBe(true);
}, 120_000);
