/**
 * The package as npm would install it (npm pack, unpacked elsewhere) finds its lua/ files:
 * the CLI runs a script and the REPL loads lua/repl.lua from the installed layout.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "moonexec-pack-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("packed install", () => {
  it("runs a script and the REPL from an unpacked npm pack", () => {
    const out = execFileSync("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], { cwd: ROOT, encoding: "utf8" });
    const tarball = JSON.parse(out)[0].filename as string;
    execFileSync("tar", ["xzf", join(dir, tarball), "-C", dir]);
    const pkg = join(dir, "package");
    symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules")); // dependencies, as npm would install them
    writeFileSync(join(dir, "s.lua"), `print(require("exec").get("local:shell") ~= nil)`);
    const bin = join(pkg, "bin/moonexec.js");

    const run = spawnSync(process.execPath, [bin, "run", join(dir, "s.lua")], { cwd: dir, encoding: "utf8" });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, "true\n", ""]);

    const repl = spawnSync(process.execPath, [bin, "repl"], { cwd: dir, input: "{1, 2}\n", encoding: "utf8" });
    expect([repl.status, repl.stdout, repl.stderr]).toEqual([0, "{ 1, 2 }\n", ""]);
  }, 60_000);
});
