/** `moonexec check`: config validation, probes per executor, table / JSON output, exit codes. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { runCheck } from "../../src/cli/check.js";
import { builtinKinds } from "../../src/backend/kinds.js";
import type { BackendKind } from "../../src/backend/contract.js";
import { runCli, tempDir } from "../helpers/cli.js";

const GOOD = `namespace: ops
entries:
  - name: shell
    kind: exec.native
    default_work_dir: /tmp
`;
const BROKEN = `${GOOD}  - name: build
    kind: exec.native
    default_work_dir: /nonexistent/moonexec-build
`;

function sink() {
  let text = "";
  const w = new Writable({ write: (c, _e, cb) => ((text += c.toString()), cb()) });
  return { w, text: () => text };
}

describe("moonexec check (CLI)", () => {
  it("passes a good native config: table, summary, exit 0", async () => {
    const dir = tempDir({ "moonexec.yaml": GOOD });
    const r = await runCli(["check"], { cwd: dir });
    const out = r.stdout.toString();
    expect(r.code, r.stderr).toBe(0);
    expect(out).toContain(`config: ${dir}/moonexec.yaml (1 executor)`);
    expect(out).toMatch(/^ID\s+KIND\s+STATUS\s+DETAIL$/m);
    expect(out).toMatch(/^ops:shell\s+exec\.native\s+ok\s+local processes$/m);
    expect(out).toContain("1 executor checked, no problems");
    expect(out).not.toContain("probing"); // progress only on a terminal
  });

  it("reports a broken work_dir with a line naming the executor, exit 1", async () => {
    const dir = tempDir({ "ops.yaml": BROKEN });
    const r = await runCli(["check", "--config", "ops.yaml"], { cwd: dir });
    const out = r.stdout.toString();
    expect(r.code).toBe(1);
    expect(out).toMatch(/^ops:shell\s+exec\.native\s+ok/m);
    expect(out).toMatch(/^ops:build\s+exec\.native\s+FAIL\s+default_work_dir \/nonexistent\/moonexec-build does not exist$/m);
    expect(out).toContain("1 problem in 2 executors:");
    expect(out).toContain("  ✗ ops:build (exec.native): default_work_dir /nonexistent/moonexec-build does not exist");
  });

  it("--json gives one object with a status per executor", async () => {
    const dir = tempDir({ "ops.yaml": BROKEN });
    const r = await runCli(["check", "--config", "ops.yaml", "--json"], { cwd: dir });
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout.toString());
    expect(report).toMatchObject({
      config: "ops.yaml",
      ok: false,
      executors: [
        { id: "ops:shell", kind: "exec.native", status: "ok", detail: ["local processes"] },
        { id: "ops:build", kind: "exec.native", status: "problem", detail: ["default_work_dir /nonexistent/moonexec-build does not exist"] },
      ],
    });
    expect(typeof report.executors[0].duration_ms).toBe("number");
  });

  it("an invalid config is a clear message naming the field, exit 2", async () => {
    const dir = tempDir({ "bad.yaml": `${GOOD}    colour: blue\n` });
    const r = await runCli(["check", "--config", "bad.yaml"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("moonexec check: invalid config: bad.yaml: entry 'ops:shell': unknown field 'colour'");
    expect(r.stdout.toString()).toBe("");

    const j = await runCli(["check", "--config", "bad.yaml", "--json"], { cwd: dir });
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stdout.toString())).toMatchObject({ config: "bad.yaml", ok: false, executors: [] });
    expect(JSON.parse(j.stdout.toString()).error).toContain("unknown field 'colour'");
  });

  it("a missing config file is a config error, exit 2", async () => {
    const r = await runCli(["check", "--config", "/nonexistent/moonexec.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("/nonexistent/moonexec.yaml: cannot read config");
  });

  it("with no config file it checks the built-in local:shell", async () => {
    const r = await runCli(["check"], { cwd: tempDir() });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toContain("config: built-in default (1 executor)");
    expect(r.stdout.toString()).toMatch(/^local:shell\s+exec\.native\s+ok/m);
  });

  it("rejects options of other commands, naming the flag", async () => {
    const r = await runCli(["check", "--verbose"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("check: unknown option --verbose (known: --config, --json)");
  });
});

describe("runCheck with other kinds", () => {
  const fakeKinds = (): Map<string, BackendKind> => {
    const kinds = builtinKinds();
    const kind = (name: string, probe?: BackendKind["probe"]): BackendKind => ({
      kind: name,
      fields: {},
      open: async () => {
        throw new Error("not used");
      },
      probe,
    });
    for (const k of [
      kind("exec.down", async () => ({ ok: false, lines: ["daemon unreachable at unix:///run/none.sock"] })),
      kind("exec.throws", async () => {
        throw new Error("socket hang up");
      }),
      kind("exec.hangs", () => new Promise(() => {})),
      kind("exec.noprobe"),
      kind("exec.up", async () => ({ ok: true, lines: ["daemon reachable", "image present"] })),
    ]) {
      kinds.set(k.kind, k);
    }
    return kinds;
  };
  const config = `namespace: t
entries:
  - { name: up, kind: exec.up }
  - { name: down, kind: exec.down }
  - { name: throws, kind: exec.throws }
  - { name: hangs, kind: exec.hangs }
  - { name: noprobe, kind: exec.noprobe }
`;

  it("a failing, throwing or hanging probe is a problem; a kind without probe is skipped", async () => {
    const dir = tempDir({ "moonexec.yaml": config });
    const out = sink();
    const code = await runCheck({ kinds: fakeKinds(), cwd: dir, out: out.w, probeTimeoutMs: 300 });
    const text = out.text();
    expect(code).toBe(1);
    expect(text).toMatch(/^t:up\s+exec\.up\s+ok\s+daemon reachable; image present$/m);
    expect(text).toMatch(/^t:down\s+exec\.down\s+FAIL\s+daemon unreachable at unix:\/\/\/run\/none\.sock$/m);
    expect(text).toMatch(/^t:noprobe\s+exec\.noprobe\s+skipped\s+kind exec\.noprobe has no probe$/m);
    expect(text).toContain("3 problems in 5 executors:");
    expect(text).toContain("  ✗ t:down (exec.down): daemon unreachable at unix:///run/none.sock");
    expect(text).toContain("  ✗ t:throws (exec.throws): probe failed: socket hang up");
    expect(text).toContain("  ✗ t:hangs (exec.hangs): probe did not answer within 0.3s");
    expect(text).not.toContain("t:noprobe (");
  });

  it("shows each probe while it runs when a person is watching (progress)", async () => {
    const dir = tempDir({ "moonexec.yaml": "namespace: t\nentries:\n  - { name: up, kind: exec.up }\n" });
    const out = sink();
    expect(await runCheck({ kinds: fakeKinds(), cwd: dir, out: out.w, progress: true })).toBe(0);
    expect(out.text()).toContain("  probing t:up (exec.up)…\r\x1b[Kt:up");
  });

  it("--json lists skipped and failed probes", async () => {
    const dir = tempDir({ "moonexec.yaml": config });
    const out = sink();
    expect(await runCheck({ kinds: fakeKinds(), cwd: dir, out: out.w, json: true, probeTimeoutMs: 300 })).toBe(1);
    const report = JSON.parse(out.text());
    expect(report.executors.map((e: { id: string; status: string }) => `${e.id}=${e.status}`)).toEqual([
      "t:up=ok",
      "t:down=problem",
      "t:throws=problem",
      "t:hangs=problem",
      "t:noprobe=skipped",
    ]);
  });
});
