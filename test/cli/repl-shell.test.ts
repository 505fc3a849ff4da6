/**
 * The REPL's `:shell ID`, driven as a person would: the REPL runs on a real pseudo-terminal
 * (@lydell/node-pty, which can also resize it, as a terminal window does), and the test types
 * keys and reads the screen's text.
 */
import { afterEach, describe, expect, it } from "vitest";
import pty from "@lydell/node-pty";
import { BIN, tempDir } from "../helpers/cli.js";
import { gone } from "../helpers/procs.js";

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const PROMPT = /(^|\n)> $/;
const SHELL_PROMPT = /[$#] $/;

class Screen {
  readonly term: pty.IPty;
  private raw = "";
  private cursor = 0;
  /** Exit code, or the signal number that killed it. */
  readonly exited: Promise<number>;

  constructor(env: NodeJS.ProcessEnv = {}) {
    this.term = pty.spawn(process.execPath, [BIN, "repl"], {
      cols: 80,
      rows: 24,
      cwd: tempDir(),
      env: { ...process.env, TERM: "xterm-256color", SHELL: "/bin/sh", MOONEXEC_HISTORY: "", ...env } as Record<string, string>,
    });
    this.term.onData((d) => (this.raw += d));
    this.exited = new Promise((resolve) => this.term.onExit(({ exitCode, signal }) => resolve(signal || exitCode)));
  }

  get text(): string {
    return this.raw.replace(ANSI, "").replace(/\r/g, "");
  }

  /** Wait until `re` matches the text after the previous match. */
  async expect(re: RegExp, ms = 15_000): Promise<RegExpExecArray> {
    const end = Date.now() + ms;
    for (;;) {
      const rest = this.text.slice(this.cursor);
      const m = re.exec(rest);
      if (m) {
        this.cursor += m.index + m[0].length;
        return m;
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${re} in:\n${rest}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  type(keys: string): void {
    this.term.write(keys);
  }
}

const screens: Screen[] = [];
afterEach(() => {
  for (const s of screens.splice(0)) s.term.kill("SIGKILL");
});
function screen(): Screen {
  const s = new Screen();
  screens.push(s);
  return s;
}

describe("repl :shell", { timeout: 60_000 }, () => {
  it("attaches to a shell on a terminal of the window's size, follows resizes, passes Ctrl-C, and returns on exit", async () => {
    const s = screen();
    await s.expect(/:shell ID attaches this terminal.*Ctrl-\] detaches/);
    await s.expect(PROMPT);
    s.type(":shell local:shell\r");
    await s.expect(SHELL_PROMPT);
    s.type("tty; stty size; echo mark-$((6*7))\r");
    await s.expect(/\/dev\/pts\/\d+\n24 80\nmark-42\n/);
    await s.expect(SHELL_PROMPT);
    s.term.resize(100, 30);
    await new Promise((r) => setTimeout(r, 300)); // SIGWINCH reaches the REPL, which resizes the shell's terminal
    s.type("stty size\r");
    await s.expect(/\n30 100\n/);
    await s.expect(SHELL_PROMPT);
    s.type("sleep 100\r");
    await new Promise((r) => setTimeout(r, 300));
    s.type("\x03"); // the shell's terminal gets it, not the REPL
    await s.expect(SHELL_PROMPT);
    s.type("exit 3\r");
    await s.expect(/\[shell exited with 3\]\n/);
    await s.expect(PROMPT);
    s.type("1 + 1\r");
    await s.expect(/\n2\n/);
    s.type("\x04");
    expect(await s.exited).toBe(0);
  });

  it("Ctrl-] detaches: the shell and what it started are killed, and the REPL goes on", async () => {
    const s = screen();
    const m = `${3000 + Math.floor(Math.random() * 6000)}.${Math.floor(Math.random() * 1e6)}`;
    await s.expect(PROMPT);
    s.type(":shell local:shell\r");
    await s.expect(SHELL_PROMPT);
    s.type(`sleep ${m} & echo started\r`);
    await s.expect(/\nstarted\n/);
    s.type("\x1d");
    await s.expect(/\[detached: the shell was killed\]\n/);
    await s.expect(PROMPT);
    expect(await gone(m)).toEqual([]);
    s.type("2 + 2\r");
    await s.expect(/\n4\n/);
  });

  it("SIGTERM of the REPL during :shell exits 143, and SIGKILL leaves nothing either (the watchdog kills the session)", async () => {
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const s = screen();
      const m = `${3000 + Math.floor(Math.random() * 6000)}.${Math.floor(Math.random() * 1e6)}`;
      await s.expect(PROMPT);
      s.type(":shell local:shell\r");
      await s.expect(SHELL_PROMPT);
      s.type(`sleep ${m} & echo started\r`); // an interactive shell gives the job a group of its own
      await s.expect(/\nstarted\n/);
      process.kill(s.term.pid, signal);
      expect(await s.exited).toBe(signal === "SIGTERM" ? 143 : 9);
      expect(await gone(m)).toEqual([]);
    }
  });

  it("an unknown executor or a missing id is an error at the prompt", async () => {
    const s = screen();
    await s.expect(PROMPT);
    s.type(":shell nope\r");
    await s.expect(/NOT_FOUND: no executor 'nope' \(configured: local:shell\)\n/);
    await s.expect(PROMPT);
    s.type(":shell\r");
    await s.expect(/usage: :shell ID/);
    await s.expect(PROMPT);
    s.type("3 + 3\r");
    await s.expect(/\n6\n/);
  });
});
