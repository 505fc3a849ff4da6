/** The LuaLS definition files in types/ cover the real Lua API (parsed from lua/*.lua and src/). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Host } from "../../src/index.js";
import { ROOT } from "../helpers/cli.js";

const read = (rel: string) => readFileSync(join(ROOT, rel), "utf8");

/** "Table.name" for every function/field defined on a table at the top level (metamethods excluded). */
function definedNames(source: string): Set<string> {
  const names = new Set<string>();
  for (const m of source.matchAll(/^function\s+([A-Za-z_]\w*)[.:]([A-Za-z_]\w*)\s*\(/gm)) names.add(`${m[1]}.${m[2]}`);
  for (const m of source.matchAll(/^([A-Za-z_]\w*\.[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*\.[A-Za-z_]\w*)*)\s*=[^=]/gm)) {
    for (const target of m[1]!.split(",")) names.add(target.trim());
  }
  return new Set([...names].filter((n) => !n.split(".")[1]!.startsWith("__")));
}

/** The lines of the `---@class name` block up to the next blank line. */
function classBlock(stub: string, name: string): string {
  const start = stub.indexOf(`---@class ${name}\n`);
  expect(start, `---@class ${name}`).toBeGreaterThanOrEqual(0);
  const end = stub.indexOf("\n\n", start);
  return stub.slice(start, end < 0 ? undefined : end);
}

const MODULES = [
  { impl: "lua/exec.lua", stub: "types/exec.lua", module: "exec", more: ["lua/fleet.lua"] },
  { impl: "lua/task.lua", stub: "types/task.lua", module: "task", more: [] },
];

describe("LuaLS stubs", () => {
  for (const { impl, stub, module, more } of MODULES) {
    it(`${stub} declares every function of ${impl}, and nothing that does not exist`, () => {
      if (!existsSync(join(ROOT, impl))) return; // module not in this tree yet
      const real = definedNames([impl, ...more].map(read).join("\n"));
      const declared = definedNames(read(stub));
      expect(real.size).toBeGreaterThan(3);
      expect([...real].filter((n) => !declared.has(n)), `missing from ${stub}`).toEqual([]);
      expect([...declared].filter((n) => !real.has(n)), `declared in ${stub} but not in ${impl}`).toEqual([]);
    });

    it(`${stub} is a documented ---@meta file that loads as Lua`, async () => {
      const text = read(stub);
      expect(text.startsWith(`---@meta ${module}\n`)).toBe(true);
      expect(text.trimEnd().endsWith(`return ${module}`)).toBe(true);
      // Every declared function has doc comments right above it.
      const lines = text.split("\n");
      lines.forEach((line, i) => {
        if (/^function /.test(line)) expect(lines[i - 1], `docs above: ${line}`).toMatch(/^---/);
      });
      const host = await Host.create();
      try {
        const [value] = await host.runString(text, `@${stub}`);
        expect(typeof value).toBe("object");
      } finally {
        await host.dispose();
      }
    });
  }

  it("declares the classes the editor needs", () => {
    const exec = read("types/exec.lua");
    for (const cls of ["exec", "exec.Executor", "exec.Process", "exec.Stream", "exec.Error", "exec.ExecOptions", "exec.ProcessInfo", "exec.ProcInfo"]) {
      expect(exec).toContain(`---@class ${cls}\n`);
    }
    expect(read("types/task.lua")).toContain("---@class task.Task\n");
  });

  it("exec.ExecOptions lists every option executor:exec accepts", () => {
    const known = /const KNOWN = \[([^\]]*)\]/.exec(read("src/process/exec-options.ts"))![1]!.match(/"(\w+)"/g)!.map((s) => s.slice(1, -1));
    expect(known).toContain("work_dir");
    const block = classBlock(read("types/exec.lua"), "exec.ExecOptions");
    for (const option of known) expect(block, `opts.${option}`).toMatch(new RegExp(`^---@field ${option}\\? `, "m"));
  });

  it("exec.ErrorKind lists every error kind the host and the Lua modules produce", () => {
    const kinds = new Set([...read("src/errors.ts").matchAll(/^\s*\| "([A-Z_]+)"/gm)].map((m) => m[1]!));
    for (const { impl } of MODULES) {
      if (existsSync(join(ROOT, impl))) for (const m of read(impl).matchAll(/new_error\("([A-Z_]+)"/g)) kinds.add(m[1]!);
    }
    expect(kinds.size).toBeGreaterThan(5);
    const stub = read("types/exec.lua");
    for (const kind of kinds) expect(stub, kind).toContain(`---| "${kind}"`);
  });

  it("ships in the package", () => {
    const pkg = JSON.parse(read("package.json"));
    expect(pkg.files).toContain("types");
  });
});
