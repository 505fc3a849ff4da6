/**
 * The spare-session stub of src/backend/ssh/wrapper.ts, run by the local shells as sshd would
 * run it (`$SHELL -c LINE`): the command line arrives on stdin, the rest of stdin is the
 * command's, words keep quotes and newlines, the environment is exactly the given one.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { spareCommandLine, spareLine } from "../../src/backend/ssh/wrapper.js";

// Login shells the stub must work in (Bourne-compatible ones that exist here).
const shells = ["/bin/sh", "/bin/dash", "/bin/bash"].filter((s) => existsSync(s));

function runStub(shell: string, argv: string[], stdinAfter: string, opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(shell, ["-c", spareLine()], {
    input: spareCommandLine(argv, opts.cwd, opts.env ?? {}) + stdinAfter,
    env: { HOME: "/tmp", PATH: process.env.PATH!, SHELL: shell, SSH_CONNECTION: "leaks if not cleared" },
  });
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString(), pid: r.pid };
}

describe.each(shells)("spare stub in %s", (shell) => {
  it("runs the command with its words exact and leaves the rest of stdin to it", () => {
    const words = ["it's", "two\nlines", "$HOME", "a\\b", '"q"', ""];
    const r = runStub(shell, ["sh", "-c", 'printf "[%s]" "$@"; echo; cat', "sh", ...words], "stdin\nbytes\x01\n");
    expect(r.code).toBe(0);
    expect(r.out).toBe(words.map((w) => `[${w}]`).join("") + "\nstdin\nbytes\x01\n");
    // The marker first on stderr: the pid is the stub's own (exec keeps it), as for direct commands.
    expect(r.err).toBe(`\x1emoonexec ${r.pid} p\n`);
  });

  it("gives the command only the login basics and its own variables", () => {
    const r = runStub(shell, ["env"], "", { env: { FOO: "x\ny", "B-AR": "1" } });
    const vars = r.out.split("\n").filter((l) => /^[A-Za-z_-]+=/.test(l)).map((l) => l.split("=")[0]).sort();
    expect(vars).toEqual(["B-AR", "FOO", "HOME", "PATH", "SHELL"]);
    expect(r.out).toContain("FOO=x\ny\n");
  });

  it("changes to the work directory, or reports it missing", () => {
    expect(runStub(shell, ["pwd"], "", { cwd: "/usr" }).out).toBe("/usr\n");
    const r = runStub(shell, ["true"], "", { cwd: "/nonexistent dir" });
    expect([r.code, r.err]).toEqual([126, "\x1emoonexec nocwd\n"]);
  });

  it("exits quietly when stdin ends before a command came (an unused spare)", () => {
    const r = spawnSync(shell, ["-c", spareLine()], { input: "" });
    expect([r.status, r.stdout.toString(), r.stderr.toString()]).toEqual([0, "", ""]);
  });
});
