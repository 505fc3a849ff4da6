/** Native executor specifics: process groups, no orphans after timeout, error or SIGINT. */
import { describe, expect, it } from "vitest";
import { gone, running } from "../helpers/procs.js";
import { runLua, startCli, tempDir } from "../helpers/cli.js";
import { startNative } from "../../src/backend/native/native-command.js";
import type { RunningCommand } from "../../src/backend/contract.js";

const prologue = `local sh = assert(require("exec").get("local:shell"))\n`;

describe("native executor", () => {
  it("timeout kills children of sh -c too", async () => {
    const marker = "101.25";
    const r = await runLua(prologue + `local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}'", {timeout = 0.5}); p:start(); print(p:wait())`);
    expect(r.stdout.toString()).toBe("137\tTIMEOUT: process timed out and was killed\n");
    expect(await gone(marker)).toEqual([]);
  });

  it("signals go to the whole process group", async () => {
    const marker = "101.5";
    const r = await runLua(prologue + `local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}; echo never'"); p:start(); p:signal("TERM"); print(p:wait(), p:signal_name())`);
    expect(r.stdout.toString()).toBe("143\tSIGTERM\n");
    expect(await gone(marker)).toEqual([]);
  });

  it("a script error leaves no process behind", async () => {
    const marker = "101.75";
    const r = await runLua(prologue + `local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}'"); p:start(); error("script failed")`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("script failed");
    expect(await gone(marker)).toEqual([]);
  });

  it("SIGINT to the CLI stops the script, kills its processes and exits 130", async () => {
    const marker = "102.25";
    const dir = tempDir({ "s.lua": prologue + `local p = sh:exec("sh -c 'sleep ${marker} & sleep ${marker}'"); p:start(); print("started"); p:wait(); print("not reached")` });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("started");
    expect(running(marker).length).toBeGreaterThan(0);
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(130);
    expect(cli.stdout()).toBe("started\n");
    expect(cli.stderr()).toContain("interrupted");
    expect(await gone(marker)).toEqual([]);
  });

  it("SIGINT also stops CPU-bound Lua", async () => {
    const dir = tempDir({ "s.lua": `print("spinning")\nwhile true do end` });
    const cli = startCli(["run", "s.lua"], { cwd: dir });
    await cli.waitFor("spinning");
    cli.child.kill("SIGINT");
    expect(await cli.exited).toBe(130);
  });

  it("a SIGINT that lands while print is still writing exits 130 too", async () => {
    // The interrupt can stop the host's write midway, leaving stdout's callback never to come.
    const dir = tempDir({ "s.lua": `print("spinning")\nwhile true do end` });
    const codes = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const cli = startCli(["run", "s.lua"], { cwd: dir });
        await cli.waitFor("spinning");
        cli.child.kill("SIGINT");
        return cli.exited;
      }),
    );
    expect(codes).toEqual(Array(8).fill(130));
  });

  it("work_dir and env options apply; a missing work_dir is a clear error", async () => {
    const dir = tempDir();
    const r = await runLua(
      prologue +
        `local p = sh:exec({"sh", "-c", "pwd; echo $GREETING"}, {work_dir = "${dir}", env = {GREETING = "hi"}}); p:start()
io.write(p:stdout_stream():read_all())
local q = sh:exec("pwd", {work_dir = "/does/not/exist"})
print(q:start())`,
    );
    expect(r.stdout.toString()).toBe(`${dir}\nhi\nnil\tNOT_FOUND: work_dir /does/not/exist does not exist\n`);
  });

  it("a command that does not exist fails at start with NOT_FOUND", async () => {
    const r = await runLua(prologue + `local p = sh:exec("no-such-command-xyz"); local ok, err = p:start(); print(ok, err.kind, err.message); print(p:wait())`);
    expect(r.stdout.toString()).toBe("nil\tNOT_FOUND\tcommand not found: no-such-command-xyz\nnil\tNOT_FOUND: command not found: no-such-command-xyz\n");
  });

  it("pid() is the real process id", async () => {
    const r = await runLua(prologue + `local p = sh:exec({"sh", "-c", "echo $$"}); p:start(); print(p:pid() == tonumber(p:stdout_stream():read_line()))`);
    expect(r.stdout.toString()).toBe("true\n");
  });

  it("stdin written before start() is delivered", async () => {
    const r = await runLua(prologue + `local p = sh:exec("cat"); p:write_stdin("early "); p:close_stdin(); p:start(); io.write(p:stdout_stream():read_all())`);
    expect(r.stdout.toString()).toBe("early ");
  });

  it("stdin written before start() without closing it stays open for more", async () => {
    const r = await runLua(prologue + `local p = sh:exec("cat"); p:write_stdin("early "); p:start(); p:write_stdin("late"); p:close_stdin(); io.write(p:stdout_stream():read_all())`);
    expect(r.stdout.toString()).toBe("early late");
  });

  it("a command that started is running when spawn returns (no wait); one that cannot start rejects", async () => {
    const { execa } = await import("execa");
    const env = { PATH: process.env.PATH ?? "/usr/bin:/bin" };
    const cmd = startNative(execa, { argv: ["sh", "-c", "echo $$"], env });
    expect(cmd).not.toBeInstanceOf(Promise);
    const running = cmd as RunningCommand;
    const out = await new Promise<string>((resolve) => {
      let s = "";
      running.stdout.on("data", (d: Buffer) => (s += d));
      running.stdout.on("end", () => resolve(s));
    });
    expect(Number(out)).toBe(running.pid);
    expect(await running.exited).toEqual({ code: 0 });
    await expect(Promise.resolve(startNative(execa, { argv: ["no-such-command-xyz"], env }))).rejects.toMatchObject({ kind: "NOT_FOUND" });
  });
});
