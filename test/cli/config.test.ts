/** Config loading and validation: every error names the file, the entry and the field. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import { builtinKinds } from "../../src/backend/kinds.js";
import { COMMON_FIELDS } from "../../src/config/fields.js";
import { FLEET_FIELDS } from "../../src/config/fleet.js";
import { runCli, tempDir } from "../helpers/cli.js";

const kinds = builtinKinds();
const parse = (yaml: string) => parseConfig(kinds, yaml, "cfg.yaml");
const fails = (yaml: string) => expect(() => parse(yaml));

describe("config", () => {
  it("reads Wippy-shaped entries with a namespace", () => {
    const c = parse(`namespace: app
entries:
  - name: shell
    kind: exec.native
    default_work_dir: /tmp
    default_env: { A: b, PORT: 8080 }
    command_whitelist: ["git status"]
`);
    const e = c.entries.get("app:shell")!;
    expect(e.default_env).toEqual({ A: "b", PORT: "8080" });
    expect(e.command_whitelist).toEqual(["git status"]);
    expect(e.default_work_dir).toBe("/tmp");
  });

  it("takes the namespace from the file name when the key is absent", () => {
    const c = parseConfig(kinds, "entries:\n  - {name: sh, kind: exec.native}\n", "/x/tools.yaml");
    expect([...c.entries.keys()]).toEqual(["tools:sh"]);
  });

  it("names file, entry and field in every error", () => {
    fails("entries:\n  - {name: a, kind: exec.nope}").toThrow("cfg.yaml: entry 'cfg:a': unknown kind 'exec.nope'");
    fails("entries:\n  - {name: a, kind: exec.native, default_env: [1]}").toThrow("cfg.yaml: entry 'cfg:a': field 'default_env' must be a map of strings, got a list");
    fails("entries:\n  - {name: a, kind: exec.native, default_env: {X: {y: 1}}}").toThrow("field 'default_env.X' must be a string");
    fails("entries:\n  - {name: a, kind: exec.native, colour: red}").toThrow("cfg.yaml: entry 'cfg:a': unknown field 'colour' for kind exec.native");
    fails("entries:\n  - {name: a, kind: exec.native, command_whitelist: git}").toThrow("field 'command_whitelist' must be a list of strings");
    fails("entries:\n  - {name: a, kind: exec.native, default_work_dir: rel/dir}").toThrow("field 'default_work_dir' must be an absolute path");
    fails("entries:\n  - {kind: exec.native}").toThrow("cfg.yaml: entry #1: field 'name' must be a word");
    fails("entries:\n  - {name: a}").toThrow("entry 'cfg:a': field 'kind' is required");
    fails("entries:\n  - {name: a, kind: exec.native}\n  - {name: a, kind: exec.native}").toThrow("duplicate id 'cfg:a'");
    fails("entry: []").toThrow("cfg.yaml: unknown top-level key 'entry'");
    fails("entries: {}").toThrow("'entries' must be a list");
    fails("entries: [\n").toThrow("cfg.yaml: invalid YAML");
  });

  it("the CLI reports config errors with exit code 2", async () => {
    const dir = tempDir({ "moonexec.yaml": "entries:\n  - {name: a, kind: exec.native, bogus: 1}\n", "s.lua": "print(1)" });
    const r = await runCli(["run", "s.lua"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("moonexec.yaml: entry 'moonexec:a': unknown field 'bogus'");
  });

  it("with a config, only configured executors exist and only configured env reaches the child", async () => {
    const dir = tempDir({
      "moonexec.yaml": `namespace: app\nentries:\n  - name: sh\n    kind: exec.native\n    default_env: { ONLY: me, PATH: "${process.env.PATH}" }\n`,
      "s.lua": `local exec = require("exec")
print(select(2, exec.get("local:shell")).kind)
local sh = assert(exec.get("app:sh"))
local p = sh:exec("env", {env = {EXTRA = "x"}}); p:start()
io.write(p:stdout_stream():read_all())`,
    });
    const r = await runCli(["run", "s.lua"], { cwd: dir, env: { ...process.env, SECRET: "leak" } });
    expect(r.stderr).toBe("");
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines[0]).toBe("NOT_FOUND");
    expect(lines.slice(1).sort()).toEqual(["EXTRA=x", "ONLY=me", `PATH=${process.env.PATH}`]);
  });

  it("without a config, local:shell inherits PATH only and runs in the current directory", async () => {
    const dir = tempDir({ "s.lua": `local sh = require("exec").get("local:shell")\nlocal p = sh:exec("sh -c 'env; pwd'"); p:start(); io.write(p:stdout_stream():read_all())` });
    const r = await runCli(["run", "s.lua"], { cwd: dir, env: { ...process.env, SECRET: "leak" } });
    const lines = r.stdout.toString().trim().split("\n");
    expect(lines).toContain(`PATH=${process.env.PATH}`);
    expect(lines.some((l) => l.startsWith("SECRET="))).toBe(false);
    expect(lines.at(-1)).toBe(dir);
  });

  it("the JSON Schema lists exactly the fields the validator accepts", () => {
    const schema = JSON.parse(readFileSync(new URL("../../schema/moonexec.schema.json", import.meta.url), "utf8"));
    const items = schema.properties.entries.items;
    expect(Object.keys(items.properties).sort()).toEqual([...Object.keys(COMMON_FIELDS), ...FLEET_FIELDS].sort());
    expect(items.properties.kind.enum.sort()).toEqual([...kinds.keys()].sort());
    for (const [name, kind] of kinds) {
      const branch = items.allOf.find((b: any) => b.if.properties.kind.const === name);
      expect(branch, `schema branch for ${name}`).toBeDefined();
      const fleet = kind.hostField ? ["hosts", "count"] : ["count"]; // hosts: needs a per-host field
      expect(branch.then.propertyNames.enum.sort()).toEqual([...Object.keys(COMMON_FIELDS), ...Object.keys(kind.fields), ...fleet].sort());
    }
  });
});
