/**
 * Terminals (opts.pty) on the remote backends: Docker (local socket, tcp+TLS, ssh://), Incus
 * (unix socket, HTTPS) and SSH, through the real CLI and Lua, against the real daemons.
 * Each backend skips without its daemon, failing under CI (test/helpers/backends.ts).
 * The test images have busybox: `busybox top -n 1` is the full-screen program.
 */
import { expect, it } from "vitest";
import { allBackends, configFor, describeBackend, EXECUTOR_ID } from "../helpers/backends.js";
import "../helpers/incus.js";
import "../helpers/ssh.js";
import { dockerSsh, dockerSshSocket, dockerTls } from "../helpers/docker-remote.js";
import { ROOT, runCli, runLua, startCli, tempDir } from "../helpers/cli.js";
import { docker, dockerBackend, moonexecContainers } from "../helpers/docker.js";
import { gone, running } from "../helpers/procs.js";

/** Lua helpers: `upto(stream, pattern)` reads until the output so far matches; `count(marker)` counts live processes by command line, from inside the target. */
const HELPERS = `
local function upto(s, pat)
  local seen = ""
  while not seen:find(pat) do
    local c, err = s:read()
    if not c then error("output ended before " .. pat .. ": " .. ("%q"):format(seen) .. " " .. tostring(err)) end
    seen = seen .. c
  end
  return seen
end
local function count(marker)
  local p = assert(ex:exec({"sh", "-c", "sleep 0.5; for f in /proc/[0-9]*/cmdline; do tr '\\\\0' ' ' <\\"$f\\" 2>/dev/null; echo; done"}))
  assert(p:start())
  local n = 0
  for line in p:stdout_stream():lines() do if line == marker .. " " then n = n + 1 end end
  assert(p:wait() == 0)
  return n
end
`;

let seq = 0;
/** A marker unique to this test run and call: `sleep N.5` with N from the pid. */
const marker = () => `sleep ${(process.pid % 1000) + 300 + ++seq * 1000}.5`;

/**
 * Lua: a 24×80 terminal command (after `before`) prints its size, again on each SIGWINCH;
 * resized to 40×120, then ^C. Writes both sizes, then "|" and the exit code.
 */
const resizeScenario = (before: string) => `
        local p = assert(ex:exec({"sh", "-c", "trap 'stty size' WINCH; ${before}stty size; while :; do sleep 0.1; done"}, {pty = true, rows = 24, cols = 80, timeout = 30}))
        assert(p:start())
        local s = p:stdout_stream()
        io.write(upto(s, "24 80\\r\\n"))
        assert(p:resize(40, 120))
        io.write(upto(s, "40 120\\r\\n"))
        assert(p:write_stdin("\\3"))
        io.write("|", (p:wait()))`;

/** A terminal command leading two background `m`s that ignore SIGHUP (as nohup'd ones do), so the hangup alone would not end them. */
const treeCommand = (m: string) => `{"sh", "-c", "trap '' HUP; ${m} & ${m} & echo up; wait"}`;

for (const backend of allBackends().filter((b) => b.name !== "native")) {
  describeBackend(backend, () => {
    const config = configFor(backend);
    const lua = (body: string) => runLua(`local exec = require("exec")\nlocal ex = assert(exec.get("${EXECUTOR_ID}"))\n${HELPERS}\n${body}\nex:release()\n`, { config });

    it("runs on a terminal of the asked size: tty, stty size, TERM, stderr merged into stdout, exit code", async () => {
      const r = await lua(`
        local p = assert(ex:exec({"sh", "-c", "tty; stty size; echo \\"term=$TERM\\"; echo err >&2; echo \\"pid=$$\\"; exit 3"}, {pty = true, rows = 30, cols = 100, term = "vt100"}))
        assert(p:start())
        local out = p:stdout_stream():read_all()
        local err = p:stderr_stream():read_all()
        local code, e = p:wait()
        -- The pid moonexec knows (signals go to its group) is the command's own.
        out = out:gsub("pid=" .. tostring(p:pid()) .. "\\r\\n", "pid=ok\\r\\n")
        io.write(("%s|%s|%s|%s"):format(out, err, code, tostring(e)))`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toMatch(/^\/dev\/pts\/\d+\r\n30 100\r\nterm=vt100\r\nerr\r\npid=ok\r\n\|\|3\|nil$/);
    }, 60_000);

    it("resizes: proc:resize changes stty size and the command gets SIGWINCH", async () => {
      const r = await lua(`
        ${resizeScenario("")}`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("24 80\r\n40 120\r\n|130");
    }, 60_000);

    it('"\\x03" on stdin interrupts the foreground command through the line discipline', async () => {
      const m = marker();
      const t0 = Date.now();
      // ^C is sent once the sleep runs (seen from inside the target): a shell that gets it
      // between two commands may hold it until the next one ends.
      const r = await lua(`
        local p = assert(ex:exec({"sh", "-c", "echo ready; ${m}; echo not-interrupted"}, {pty = true, timeout = 30}))
        assert(p:start())
        local s = p:stdout_stream()
        upto(s, "ready")
        for _ = 1, 20 do if count("${m}") == 1 then break end end
        assert(p:write_stdin("\\3"))
        local rest = s:read_all()
        local code, e = p:wait()
        io.write(code, " ", tostring(e), " ", tostring(rest:find("not-interrupted")), " ", count("${m}"))`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("130 nil nil 0");
      expect(Date.now() - t0).toBeLessThan(30_000);
    }, 60_000);

    it("runs a full-screen program: busybox top -n 1", async () => {
      const r = await lua(`
        local p = assert(ex:exec({"busybox", "top", "-n", "1"}, {pty = true, rows = 30, cols = 120}))
        assert(p:start())
        local out = p:stdout_stream():read_all()
        io.write(tostring(p:wait()), "|", out)`);
      expect(r.stderr).toBe("");
      const out = r.stdout.toString();
      expect(out.startsWith("0|")).toBe(true);
      expect(out).toContain("\x1b[H\x1b[J"); // top clears the screen: it writes for a terminal
      expect(out).toMatch(/Load average:/);
      expect(out).toMatch(/PID\s+PPID\s+USER/);
    }, 60_000);

    it("decodes terminal output with opts.encoding, read by lines", async () => {
      const r = await lua(`
        local p = assert(ex:exec({"sh", "-c", "printf '\\\\307\\\\321'; sleep 0.3; printf '\\\\261\\\\333\\\\nsecond\\\\n'"}, {pty = true, encoding = "cp949"}))
        assert(p:start())
        for line in p:stdout_stream():lines() do io.write("[", line, "]") end
        io.write(p:wait())`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("[한글][second]0");
    }, 60_000);

    it("timeout kills the whole process group of a terminal command", async () => {
      const m = marker();
      const r = await lua(`
        local p = assert(ex:exec(${treeCommand(m)}, {pty = true, timeout = 2}))
        assert(p:start())
        upto(p:stdout_stream(), "up")
        local code, e = p:wait()
        io.write(code, " ", e and e.kind or "none", " ", count("${m}"))`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("137 TIMEOUT 0");
    }, 60_000);

    it("release leaves no process of a running terminal command behind", async () => {
      const m = marker();
      const r = await lua(`
        local p = assert(ex:exec(${treeCommand(m)}, {pty = true}))
        assert(p:start())
        upto(p:stdout_stream(), "up")
        io.write(count("${m}"))`);
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("2");
      expect(await gone(m)).toEqual([]);
    }, 60_000);

    it("a dead host (SIGKILL) leaves no process of a terminal command behind", async () => {
      const m = marker();
      const dir = tempDir({
        "moonexec.yaml": config,
        "main.lua": `local exec = require("exec")
          local ex = assert(exec.get("${EXECUTOR_ID}"))
          local p = assert(ex:exec(${treeCommand(m)}, {pty = true}))
          assert(p:start()); local s = p:stdout_stream(); local seen = ""
          while not seen:find("up") do seen = seen .. assert(s:read()) end
          print("up"); io.stdout:flush()
          p:wait()`,
      });
      const cli = startCli(["run", "main.lua"], { cwd: dir });
      try {
        await cli.waitFor("up");
        expect(running(m).length).toBeGreaterThanOrEqual(2);
      } finally {
        cli.child.kill("SIGKILL");
        await cli.exited;
      }
      // A container or instance notices its lost connection within seconds, not at once.
      for (let i = 0; i < 4 && running(m).length > 0; i++) await gone(m);
      expect(running(m)).toEqual([]);
    }, 60_000);
  });
}

// Remote Docker shares the code path with the local socket; its essentials over each transport
// (the full set above runs on them with MOONEXEC_CONFORMANCE_REMOTE_DOCKER=1).
for (const backend of [dockerTls, dockerSshSocket, dockerSsh].filter((b) => !allBackends().includes(b))) {
  describeBackend(backend, () => {
    const config = configFor(backend);
    it("a terminal: size, resize with SIGWINCH, ^C, exit code", async () => {
      const r = await runLua(
        `local exec = require("exec")\nlocal ex = assert(exec.get("${EXECUTOR_ID}"))\n${HELPERS}
        ${resizeScenario("tty; ")}
        local q = assert(ex:exec({"sh", "-c", "exit 3"}, {pty = true}))
        assert(q:start())
        io.write("|", (q:wait()))
        ex:release()`,
        { config },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toMatch(/^\/dev\/pts\/\d+\r\n24 80\r\n40 120\r\n\|130\|3$/);
    }, 90_000);
  });
}

describeBackend(dockerBackend, () => {
  it("a container removed under a terminal command: GONE on wait() and on the stream, not an ordinary 137", async () => {
    const config = configFor(dockerBackend);
    const dir = tempDir({
      "moonexec.yaml": config,
      "main.lua": `local exec = require("exec")
        local ex = assert(exec.get("${EXECUTOR_ID}"))
        local q = assert(ex:exec({"sh", "-c", "echo up; sleep 60"}, {pty = true})); assert(q:start())
        local s = q:stdout_stream(); local seen = ""
        while not seen:find("up") do seen = seen .. assert(s:read()) end
        print("started"); io.stdout:flush()
        local code, err = q:wait()
        print(code, err and err.kind)
        local line, rerr = s:read()
        print(line, rerr and rerr.kind)`,
    });
    const cli = startCli(["run", "main.lua"], { cwd: dir });
    try {
      await cli.waitFor("started");
      const [c] = await moonexecContainers(EXECUTOR_ID);
      await docker.getContainer(c!.Id).remove({ force: true });
    } finally {
      await cli.exited;
    }
    expect(cli.stdout()).toBe("started\nnil\tGONE\nnil\tGONE\n");
  }, 60_000);

  it("examples/docker-terminal.lua runs with examples/docker.yaml", async () => {
    const r = await runCli(["run", "--config", "examples/docker.yaml", "examples/docker-terminal.lua"], { cwd: ROOT });
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toMatch(/^\/dev\/pts\/\d+\n30 100\nname\? \nmoon\nhello moon\nexit: 0\nafter resize: 40 120\nafter \^C: exit 130\n$/);
    expect(r.code).toBe(0);
  }, 60_000);
});
