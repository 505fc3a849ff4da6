/**
 * Terminals on the native executor (pty = true), driven through the real CLI: what a program
 * on the terminal sees, keys through the line discipline, resize, exits and timeouts, no
 * process left after release, SIGINT or host death, and stream:expect answering prompts.
 */
import { describe, expect, it } from "vitest";
import { runLua, startCli, tempDir } from "../helpers/cli.js";
import { gone, running } from "../helpers/procs.js";

const prologue = `local sh = assert(require("exec").get("local:shell"))\n`;

/** Run a script; its stdout as text (stderr must be empty unless `errors`). */
async function lua(script: string): Promise<string> {
  const r = await runLua(prologue + script);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout.toString();
}

/** A `sleep` duration no other test uses: the marker looked for in `ps`. */
function marker(): string {
  return `${2000 + Math.floor(Math.random() * 7000)}.${String(Math.floor(Math.random() * 1e6)).padStart(6, "0")}`;
}

describe("native pty", () => {
  it("the program sees a terminal of the asked size and type; stderr is merged and the stderr stream is empty", async () => {
    const out = await lua(`
local p = assert(sh:exec("sh -c 'tty; stty size; echo $TERM; echo to-stderr >&2; exit 3'", {pty = true, rows = 40, cols = 100, term = "vt100"}))
assert(p:start())
io.write(p:stdout_stream():read_all(), "|", p:stderr_stream():read_all(), "|", p:wait())`);
    expect(out).toMatch(/^\/dev\/pts\/\d+\r\n40 100\r\nvt100\r\nto-stderr\r\n\|\|3$/);
  });

  it("defaults are 24x80 xterm-256color; TERM named in env wins over opts.term", async () => {
    const out = await lua(`
local a = assert(sh:exec("sh -c 'stty size; echo $TERM'", {pty = true})); assert(a:start())
local b = assert(sh:exec("sh -c 'echo $TERM'", {pty = true, env = {TERM = "dumb"}})); assert(b:start())
io.write(a:stdout_stream():read_all(), b:stdout_stream():read_all())`);
    expect(out).toBe("24 80\r\nxterm-256color\r\ndumb\r\n");
  });

  it("without pty the same command has no terminal", async () => {
    const out = await lua(`local p = assert(sh:exec("sh -c 'tty; true'")); assert(p:start()); io.write(p:stdout_stream():read_all())`);
    expect(out).toBe("not a tty\n");
  });

  it("proc:resize changes the size the program sees (SIGWINCH)", async () => {
    const out = await lua(`
local p = assert(sh:exec([[sh -c 'trap "echo winch" WINCH; stty size; read x; stty size']], {pty = true, rows = 30, cols = 90}))
assert(p:start())
local s = p:stdout_stream()
print(assert(s:expect("(%d+ %d+)\\r\\n", 10)))
assert(p:resize(50, 132))
print(assert(s:expect("winch", 10)))
assert(p:write_stdin("\\n"))
print(assert(s:expect("(%d+ %d+)\\r\\n", 10)))
print(p:wait())`);
    expect(out).toBe("30 90\r\n\t30 90\nwinch\n50 132\r\n\t50 132\n0\n");
  });

  it('"\\x03" interrupts sleep 100 through the line discipline; "\\x04" at a line start is EOF; close_stdin sends it', async () => {
    const out = await lua(`
local p = assert(sh:exec("sleep 100", {pty = true})); assert(p:start())
assert(p:write_stdin("\\3")); print(p:wait(), p:signal_name())
local c = assert(sh:exec("cat", {pty = true})); assert(c:start())
assert(c:write_stdin("hello\\n")); assert(c:stdout_stream():expect("hello\\r\\nhello\\r\\n", 10))
assert(c:write_stdin("\\4")); print(c:wait())
local d = assert(sh:exec("wc -c", {pty = true})); assert(d:start())
assert(d:write_stdin("abc\\n")); assert(d:close_stdin()); assert(d:close_stdin())
print(d:wait(), (d:stdout_stream():read_all():gsub("%s+", " ")))
print(d:write_stdin("late"))`);
    expect(out).toBe("130\tSIGINT\n0\n0\tabc 4 \nnil\tCLOSED: stdin is closed\n");
  });

  it("exit codes, signals and timeouts as without a terminal; a missing program is NOT_FOUND before it runs", async () => {
    const out = await lua(`
local a = assert(sh:exec("sh -c 'exit 7'", {pty = true})); assert(a:start()); print(a:wait())
local b = assert(sh:exec("sleep 100", {pty = true})); assert(b:start()); assert(b:signal("TERM")); print(b:wait(), b:signal_name())
local c = assert(sh:exec("sleep 100", {pty = true, timeout = 0.3})); assert(c:start()); print(c:wait())
local d = assert(sh:exec("no-such-program-xyz", {pty = true})); print(d:start())`);
    expect(out).toBe("7\n143\tSIGTERM\n137\tTIMEOUT: process timed out and was killed\nnil\tNOT_FOUND: command not found: no-such-program-xyz\n");
  });

  it("procps top -n 1 (no -b: it needs the terminal) and busybox top -n 1 run and exit 0", async () => {
    const out = await lua(`
for _, cmd in ipairs({"top -n 1", "busybox top -n 1"}) do
  local p = assert(sh:exec(cmd, {pty = true, rows = 30, cols = 120, env = {PATH = "/usr/bin:/bin"}})); assert(p:start())
  local text = p:stdout_stream():read_all()
  print(cmd, p:wait(), text:find("PID", 1, true) ~= nil)
end`);
    expect(out).toBe("top -n 1\t0\ttrue\nbusybox top -n 1\t0\ttrue\n");
  });

  it("the last output before the exit is never lost (100 short commands that answer and exit)", async () => {
    const out = await lua(`
local lost = 0
for i = 1, 100 do
  local p = assert(sh:exec("wc -c", {pty = true})); assert(p:start())
  assert(p:write_stdin("abc\\n")); assert(p:close_stdin())
  assert(p:wait() == 0)
  if not p:stdout_stream():read_all():find("4\\r\\n$") then lost = lost + 1 end
end
print("lost", lost)`);
    expect(out).toBe("lost\t0\n");
  });

  it("encoding applies to terminal output", async () => {
    const out = await lua(`
local p = assert(sh:exec([[printf 'caf\\351']], {pty = true, encoding = "latin1"})); assert(p:start())
io.write(p:stdout_stream():read_all())`);
    expect(out).toBe("café");
  });

  it("release kills the terminal's whole session, jobs in groups of their own too", async () => {
    const m = marker();
    const out = await lua(`
local p = assert(sh:exec([[sh -c 'set -m; sleep ${m} & sleep ${m} & echo up; sleep ${m}']], {pty = true})); assert(p:start())
assert(p:stdout_stream():expect("up", 10))
print("running")
assert(sh:release())
print(p:wait())`);
    expect(out).toMatch(/^running\n137\n$/);
    expect(await gone(m)).toEqual([]);
  });

  it("SIGINT to the CLI and SIGKILL of the host leave no terminal process behind, jobs in groups of their own too", async () => {
    for (const signal of ["SIGINT", "SIGKILL"] as const) {
      const m = marker();
      const dir = tempDir({ "s.lua": prologue + `local p = assert(sh:exec("sh -c 'set -m; sleep ${m} & sleep ${m} & sleep ${m}'", {pty = true})); assert(p:start()); print("started"); p:wait()` });
      const cli = startCli(["run", "s.lua"], { cwd: dir });
      await cli.waitFor("started");
      for (let i = 0; i < 40 && running(m).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
      expect(running(m).length).toBeGreaterThanOrEqual(3);
      cli.child.kill(signal);
      expect(await cli.exited).toBe(signal === "SIGINT" ? 130 : "SIGKILL");
      expect(await gone(m)).toEqual([]);
    }
  });
});

describe("stream:expect", () => {
  it("answers a password prompt on /dev/tty (not echoed) and returns the match and captures", async () => {
    const out = await lua(`
local p = assert(sh:exec([[sh -c 'printf "login: "; read u; printf "Password: " >/dev/tty; stty -echo </dev/tty; read pw </dev/tty; stty echo </dev/tty; echo; echo "user $u has a $(printf %s "$pw" | wc -c)-char password"']], {pty = true}))
assert(p:start())
local s = p:stdout_stream()
print(assert(s:expect("login: ", 10)))
assert(p:write_stdin("bob\\n"))
print(assert(s:expect("(%a+): $", 10)))
assert(p:write_stdin("s3cret\\n"))
print(assert(s:expect("user (%a+) has a (%d+)%-char password", 10)))
print(p:wait(), (s:read_all():gsub("[\\r\\n]", "")))`);
    expect(out).toBe("login: \nPassword: \tPassword\nuser bob has a 6-char password\tbob\t6\n0\t\n");
  });

  it("python3 getpass prompt through expect", async () => {
    const out = await lua(`
local p = assert(sh:exec({"python3", "-c", "import getpass; print('len', len(getpass.getpass('Secret? ')))"}, {pty = true}))
assert(p:start())
local s = p:stdout_stream()
assert(s:expect("Secret%? $", 20))
assert(p:write_stdin("hunter2\\n"))
print(assert(s:expect("len (%d+)", 20)))
print(p:wait())`);
    expect(out).toBe("len 7\t7\n0\n");
  });

  it("consumes output up to the end of the match only: reads and expects go on after it", async () => {
    const out = await lua(`
local p = assert(sh:exec("printf 'one two three\\nfour'")); assert(p:start())
local s = p:stdout_stream()
print(s:expect("t(w)o", 5))
print(s:expect("()e", 5))
print(s:read_line())
print(s:expect("^f", 5))
print(s:read_all())`);
    expect(out).toBe("two\tw\ne\t5\ne\nf\nour\n");
  });

  it("TIMEOUT shows the pattern and the last output, escaped; the output stays unread", async () => {
    const out = await lua(`
local p = assert(sh:exec([[sh -c 'printf "a\\tb\\033[1mPrompt> "; sleep 5']], {pty = true})); assert(p:start())
local s = p:stdout_stream()
local v, err = s:expect("%$ ", 0.3)
print(v, err.kind, err.message)
print(s:read())
p:kill()`);
    expect(out).toBe('nil\tTIMEOUT\tstream:expect: no match for "%$ " within 0.3 s; last output: "a\\tb\\x1b[1mPrompt> "\na\tb\x1b[1mPrompt> \n');
  });

  it("the end of the stream before a match is a CLOSED error, never a silent nil", async () => {
    const out = await lua(`
local p = assert(sh:exec("echo bye")); assert(p:start())
print(p:stdout_stream():expect("never", 5))`);
    expect(out).toBe('nil\tCLOSED: stream:expect: stdout ended before "never" matched; last output: "bye\\n"\n');
  });

  it("bad arguments are INVALID errors naming them", async () => {
    const out = await lua(`
local p = assert(sh:exec("sleep 5")); assert(p:start())
local s = p:stdout_stream()
print(s:expect("[", 1)); print(s:expect(nil, 1)); print(s:expect("x", 0)); print(s:expect("x", "1"))
print(s.expect("x"))
p:kill()`);
    expect(out).toBe(
      [
        "nil\tINVALID: stream:expect: pattern: malformed pattern (missing ']')",
        "nil\tINVALID: stream:expect: pattern must be a string (a Lua pattern), got nil",
        "nil\tINVALID: stream:expect: timeout: must be a positive number of seconds, got number 0",
        'nil\tINVALID: stream:expect: timeout: must be a positive number of seconds, got string "1"',
        "nil\tINVALID: stream:expect: self is not an exec.stream (call it with ':')",
        "",
      ].join("\n"),
    );
  });

  it("works on a background process's replay stream", async () => {
    const out = await lua(`
local p = assert(sh:exec("sh -c 'sleep 0.2; echo ready 42; sleep 5'", {background = true, tag = "bg"}))
local again = assert(sh:attach("bg"))
print(again:stdout_stream():expect("ready (%d+)", 10))
p:kill()`);
    expect(out).toBe("ready 42\t42\n");
  });
});
