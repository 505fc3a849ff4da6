/**
 * `moonexec repl`, driven as a person would: through a pseudo-terminal (python3's pty module
 * relays our pipes to a real pty) and through plain stdin.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { historyPath, loadHistory, saveHistory } from "../../src/cli/repl-history.js";
import { luaString } from "../../src/cli/repl-eval.js";
import { BIN, runCli, tempDir } from "../helpers/cli.js";
import { NATIVE_SRC } from "../helpers/engine.js";

/** Runs argv on a new pty (80x24): our stdin goes to the pty, the pty's output to our stdout. */
const PTY_RELAY = `
import os, pty, sys, select, fcntl, termios, struct
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execvp(sys.argv[1], sys.argv[1:])
watch_in = True
while True:
    r, _, _ = select.select([fd] + ([0] if watch_in else []), [], [])
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        os.write(1, data)
    if watch_in and 0 in r:
        data = os.read(0, 65536)
        if data:
            os.write(fd, data)
        else:
            watch_in = False
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const CTRL_C = "\x03";
const CTRL_D = "\x04";
const UP = "\x1b[A";

/** A running REPL with expect-style matching on its (ANSI-stripped) output. */
class Session {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private raw = "";
  private errRaw = "";
  private cursor = 0;
  private waiters = new Set<() => void>();

  constructor(argv: string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.child = spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout!.on("data", (d: Buffer) => this.add(d.toString(), "out"));
    this.child.stderr!.on("data", (d: Buffer) => this.add(d.toString(), "err"));
    this.exited = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
  }

  private add(text: string, which: "out" | "err"): void {
    if (which === "out") this.raw += text;
    else this.errRaw += text;
    for (const w of this.waiters) w();
  }

  /** Everything shown so far, without terminal control sequences and carriage returns. */
  get text(): string {
    return this.raw.replace(ANSI, "").replace(/\r/g, "");
  }

  get stderr(): string {
    return this.errRaw;
  }

  send(data: string): void {
    this.child.stdin!.write(data);
  }

  /** Wait until `pattern` appears after the previous match; returns the match. */
  async expect(pattern: string | RegExp, timeoutMs = 15_000, stream: "out" | "err" = "out"): Promise<RegExpExecArray> {
    const re = typeof pattern === "string" ? new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = stream === "out" ? this.text : this.errRaw;
      const from = stream === "out" ? this.cursor : 0;
      const m = re.exec(all.slice(from));
      if (m) {
        if (stream === "out") this.cursor = from + m.index + m[0].length;
        return m;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${re} in:\n${all.slice(from)}\n--- stderr:\n${this.errRaw}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        const self = this;
        function done() {
          clearTimeout(t);
          self.waiters.delete(done);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

const sessions: Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.kill();
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, TERM: "xterm-256color", MOONEXEC_HISTORY: "", ...extra };
}

/** The REPL on a pseudo-terminal. */
function ptyRepl(args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Session {
  const s = new Session(["python3", "-c", PTY_RELAY, process.execPath, BIN, "repl", ...args], env(extraEnv), tempDir());
  sessions.push(s);
  return s;
}

/** The REPL with piped stdin (kept open until close()). */
function pipedRepl(args: string[] = []): Session {
  const s = new Session([process.execPath, BIN, "repl", ...args], env(), tempDir());
  sessions.push(s);
  return s;
}

/** True once the process is gone or a zombie. */
function isDead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

async function eventuallyDead(pid: number, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (isDead(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return isDead(pid);
}

const START_SLEEP = `p = exec.get("local:shell"):exec("sleep 30") p:start() print("pid=" .. p:pid()) p:wait()`;

describe("repl on a terminal", { timeout: 60_000 }, () => {
  it("prompts, prints values, continues unfinished chunks with >>, and exits on Ctrl-D", async () => {
    const s = ptyRepl();
    await s.expect("`exec` is loaded; executors: local:shell");
    await s.expect("Ctrl-C cancels a running line, Ctrl-D exits.");
    await s.expect("> ");
    s.send("1 + 2\r");
    await s.expect(/\n3\n> /);
    s.send("{ 1, 2, name = 'x' }\r");
    await s.expect('{ 1, 2, name = "x" }\n> ');
    s.send("for i = 1, 2 do\r");
    await s.expect(">> ");
    s.send("print(i * 10)\r");
    await s.expect(">> ");
    s.send("end\r");
    await s.expect(/10\n20\n> /);
    s.send("nosuch()\r");
    await s.expect("attempt to call a nil value (global 'nosuch')");
    await s.expect("> ");
    s.send(CTRL_D);
    expect(await s.exited).toBe(0);
  });

  it("Ctrl-C during `sleep 30` returns to the prompt quickly with the sleep killed", async () => {
    const s = ptyRepl();
    await s.expect("> ");
    s.send(`${START_SLEEP}\r`);
    const pid = Number((await s.expect(/pid=(\d+)/))[1]);
    expect(isDead(pid)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    const pressed = Date.now();
    s.send(CTRL_C);
    await s.expect(/interrupted\n> /, 5000);
    expect(Date.now() - pressed).toBeLessThan(3000);
    expect(await eventuallyDead(pid)).toBe(true);
    // The session and its executors still work.
    s.send('p = exec.get("local:shell"):exec("echo again") p:start() print(p:stdout_stream():read_all())\r');
    await s.expect(/\nagain\n/);
    s.send(CTRL_D);
    expect(await s.exited).toBe(0);
  });

  it("Ctrl-C at the prompt clears the typed line and an unfinished chunk", async () => {
    const s = ptyRepl();
    await s.expect("> ");
    s.send("nosuch_var + ");
    await s.expect("nosuch_var + ");
    s.send(CTRL_C);
    await s.expect("> ");
    s.send("40 + 2\r");
    await s.expect(/\n42\n> /);
    s.send("for i = 1, 2 do\r");
    await s.expect(">> ");
    s.send(CTRL_C);
    await s.expect(/\n> $/);
    s.send("'fresh'\r");
    await s.expect(/\nfresh\n> /);
    expect(s.text).not.toContain("attempt to perform arithmetic");
    s.send(CTRL_D);
    expect(await s.exited).toBe(0);
  });

  it("keeps history in the MOONEXEC_HISTORY file across sessions (Up recalls it)", async () => {
    const file = join(tempDir(), "history");
    const first = ptyRepl([], { MOONEXEC_HISTORY: file });
    await first.expect("> ");
    first.send('"hist" .. "ory" .. 42\r');
    await first.expect(/\nhistory42\n> /);
    first.send(CTRL_D);
    expect(await first.exited).toBe(0);
    expect(readFileSync(file, "utf8")).toBe('"hist" .. "ory" .. 42\n');

    const second = ptyRepl([], { MOONEXEC_HISTORY: file });
    await second.expect("> ");
    second.send(UP);
    await second.expect('"hist" .. "ory" .. 42');
    second.send("\r");
    await second.expect(/\nhistory42\n> /);
    second.send(CTRL_D);
    expect(await second.exited).toBe(0);
  });
});

describe("repl with piped stdin", { timeout: 60_000 }, () => {
  it("prints values without prompts: pretty tables, cycles, depth and size limits", async () => {
    const input = [
      "1 + 1",
      '"raw string"',
      "{ 1, 2, 3 }",
      "t = {} t.self = t t.list = { t }",
      "t",
      "{ a = { b = { c = { d = { e = 1 } } } } }",
      "big = {} for i = 1, 60 do big[i] = i end",
      "#big, big[60]",
      "{ ['key with space'] = 1, ['end'] = 2, [true] = 3, [10] = 4 }",
      "{ s = 'a\\nb\\0' }",
      "return 1, nil, 'x'",
      "x = 5",
      "x",
      "local y = 1",
      "y",
      "type(exec), type(exec.get)",
      "exec.get('local:shell')",
      "exec.get('nope')",
      "setmetatable({}, { __tostring = function() return 'custom!' end })",
      "setmetatable({ n = 1 }, { __name = 'thing' })",
    ].join("\n");
    const r = await runCli(["repl"], { cwd: tempDir(), stdin: `${input}\n` });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe(
      [
        "2",
        "raw string",
        "{ 1, 2, 3 }",
        "{ list = { <cycle> }, self = <cycle> }",
        "{ a = { b = { c = { d = {...} } } } }",
        "60\t60",
        '{ [10] = 4, ["end"] = 2, ["key with space"] = 1, [true] = 3 }',
        '{ s = "a\\nb\\0" }',
        "1\tnil\tx",
        "5",
        "nil",
        "table\tfunction",
        "exec.executor(local:shell)",
        "nil\tNOT_FOUND: no executor 'nope' (configured: local:shell)",
        "custom!",
        "thing { n = 1 }",
        "",
      ].join("\n"),
    );
  });

  it("breaks long tables over lines and bounds the number of items", async () => {
    const r = await runCli(["repl"], { cwd: tempDir(), stdin: "big = {} for i = 1, 60 do big[i] = i * 1000 end\nbig\n{ alpha = 'aaaaaaaaaaaaaaaaaaaa', beta = 'bbbbbbbbbbbbbbbbbbbb', gamma = 'cccccccccccccccccccc' }\n" });
    const out = r.stdout.toString();
    expect(out).toContain("{\n  1000,\n  2000,\n");
    expect(out).toContain("  50000,\n  ... (10 more),\n}\n");
    expect(out).not.toContain("51000");
    expect(out).toContain('{\n  alpha = "aaaaaaaaaaaaaaaaaaaa",\n  beta = "bbbbbbbbbbbbbbbbbbbb",\n  gamma = "cccccccccccccccccccc",\n}\n');
  });

  it("shows errors with the user's traceback and goes on", async () => {
    const input = [
      "error('boom')",
      "local function f() nosuch() end f()",
      "x = = 1",
      "error(select(2, exec.get('nope')))",
      "error({})",
      "print('still here')",
    ].join("\n");
    const r = await runCli(["repl"], { cwd: tempDir(), stdin: `${input}\n` });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("still here\n");
    expect(r.stderr).toContain(`stdin:1: boom\nstack traceback:\n\t${NATIVE_SRC}: in function 'error'\n\tstdin:1: in main chunk\n`);
    expect(r.stderr).toContain("stdin:1: attempt to call a nil value (global 'nosuch')\nstack traceback:\n\tstdin:1: in local 'f'\n\tstdin:1: in main chunk\n");
    expect(r.stderr).toContain("stdin:1: unexpected symbol near '='\n");
    expect(r.stderr).toContain("NOT_FOUND: no executor 'nope' (configured: local:shell)\n");
    expect(r.stderr).toContain("(error object is a table value)\n");
    expect(r.stderr).not.toContain("xpcall");
    expect(r.stderr).not.toContain("moonexec repl");
  });

  it("continues unfinished chunks; an unfinished chunk at end of input is reported", async () => {
    const r = await runCli(["repl"], {
      cwd: tempDir(),
      stdin: "function double(x)\n  return x * 2\nend\ndouble(21)\nfor i = 1, 3 do\n  print(i)\nend\ns = [[a\nb]]\ns\nif true then\n",
    });
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe("42\n1\n2\n3\na\nb\n");
    expect(r.stderr).toBe("stdin:1: 'end' expected near <eof>\n");
  });

  it("os.exit(n) ends the session with that code", async () => {
    const r = await runCli(["repl"], { cwd: tempDir(), stdin: "print('a')\nos.exit(7)\nprint('b')\n" });
    expect(r.code).toBe(7);
    expect(r.stdout.toString()).toBe("a\n");
  });

  it("--time-limit stops a runaway line and the next line runs", async () => {
    const r = await runCli(["repl", "--time-limit", "0.5"], { cwd: tempDir(), stdin: "while true do end\nprint('next')\n" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("time limit of 0.5s exceeded");
    expect(r.stdout.toString()).toBe("next\n");
  });

  it("SIGINT while a line runs cancels it and kills its commands; the session goes on", async () => {
    const s = pipedRepl();
    s.send(`${START_SLEEP}\n`);
    const pid = Number((await s.expect(/pid=(\d+)/))[1]);
    const sent = Date.now();
    s.child.kill("SIGINT");
    await s.expect("interrupted\n", 5000, "err");
    expect(Date.now() - sent).toBeLessThan(3000);
    expect(await eventuallyDead(pid)).toBe(true);
    s.send("print('after')\n");
    await s.expect("after\n");
    s.child.stdin!.end();
    expect(await s.exited).toBe(0);
  });

  it("SIGINT between lines ends a piped session with 130", async () => {
    const s = pipedRepl();
    s.send("print('ready')\n");
    await s.expect("ready\n");
    s.child.kill("SIGINT");
    expect(await s.exited).toBe(130);
  });

  it("cancelling keeps background processes running", async () => {
    const s = pipedRepl();
    s.send('bg = exec.get("local:shell"):exec("sleep 30", { background = true }) print("bg=" .. bg:pid())\n');
    const bg = Number((await s.expect(/bg=(\d+)/))[1]);
    s.send(`${START_SLEEP}\n`);
    const fg = Number((await s.expect(/pid=(\d+)/))[1]);
    s.child.kill("SIGINT");
    await s.expect("interrupted\n", 5000, "err");
    expect(await eventuallyDead(fg)).toBe(true);
    expect(isDead(bg)).toBe(false);
    s.child.stdin!.end(); // the end of the session stops it too
    expect(await s.exited).toBe(0);
    expect(await eventuallyDead(bg)).toBe(true);
  });

  it("a config error exits 2 naming the field", async () => {
    const dir = tempDir({ "moonexec.yaml": "namespace: x\nentries:\n  - name: a\n    kind: exec.native\n    colour: blue\n" });
    const r = await runCli(["repl"], { cwd: dir, stdin: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown field 'colour'");
  });

  it("takes no script argument", async () => {
    const r = await runCli(["repl", "x.lua"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('repl: unexpected argument "x.lua"');
  });
});

describe("repl pieces", () => {
  it("history file: MOONEXEC_HISTORY, else XDG_STATE_HOME, else ~/.moonexec_history", () => {
    expect(historyPath({ MOONEXEC_HISTORY: "/h/file", XDG_STATE_HOME: "/state", HOME: "/home/u" })).toBe("/h/file");
    expect(historyPath({ MOONEXEC_HISTORY: "" })).toBeUndefined();
    expect(historyPath({ XDG_STATE_HOME: "/state" })).toBe("/state/moonexec/history");
    expect(historyPath({})).toMatch(/\/\.moonexec_history$/);
  });

  it("history round-trips oldest first on disk, newest first in memory, bounded", () => {
    const dir = tempDir();
    const file = join(dir, "sub", "history");
    expect(loadHistory(file)).toEqual([]);
    saveHistory(file, ["c", "b", "a"]);
    expect(readFileSync(file, "utf8")).toBe("a\nb\nc\n");
    expect(loadHistory(file)).toEqual(["c", "b", "a"]);
    writeFileSync(file, Array.from({ length: 1500 }, (_, i) => `l${i}`).join("\n"));
    const h = loadHistory(file);
    expect(h).toHaveLength(1000);
    expect(h[0]).toBe("l1499");
    expect(existsSync(file)).toBe(true);
  });

  it("luaString quotes any text for a Lua chunk", () => {
    expect(luaString('a"b\\c\nd\re\x00f\x7f é')).toBe('"a\\"b\\\\c\\nd\\re\\000f\\127 é"');
  });
});
