/**
 * `moonexec repl`: interactive Lua with `exec` loaded.
 *
 * Lines are read with node:readline (editing and persistent history on a terminal; plain
 * lines, no prompts, from a pipe). An unfinished chunk continues with a ">>" prompt. Values
 * of expressions are printed, errors are shown and the session goes on. Ctrl-C while a line
 * runs cancels it (host.cancel(): the run stops and its commands are killed); Ctrl-C at the
 * prompt clears the line; Ctrl-D (end of input) exits.
 */
import { readFileSync } from "node:fs";
import { createInterface, type Interface } from "node:readline";
import { LuaScriptError, ScriptStop, type Host } from "../lua/host.js";
import type { CliOptions } from "./args.js";
import { openHost } from "./open-host.js";
import { LuaRepl, type EvalResult } from "./repl-eval.js";
import { HISTORY_SIZE, historyPath, loadHistory, saveHistory } from "./repl-history.js";
import { reportError } from "./run.js";
import { attachShell } from "./repl-shell.js";
import { ExecError } from "../errors.js";

const PROMPT = "> ";
const CONTINUE_PROMPT = ">> ";
/** Ctrl-C presses during one stuck cancellation before the REPL gives up and exits. */
const FORCE_EXIT_PRESSES = 3;

export async function replCommand(opts: CliOptions): Promise<number> {
  const host = await openHost(opts);
  if (typeof host === "number") return host;
  try {
    let lua: LuaRepl;
    try {
      lua = await LuaRepl.start(host);
    } catch (e) {
      return reportError(e);
    }
    return await new Repl(host, lua, process.stdin, process.stdout, process.stderr).run();
  } finally {
    await host.dispose();
  }
}

export class Repl {
  private rl: Interface;
  private readonly tty: boolean;
  private readonly lines: string[] = [];
  private inputClosed = false;
  private wake: (() => void) | undefined;
  /** Lines of the chunk being entered (more than one while it is incomplete). */
  private chunk: string[] = [];
  private incompleteMessage = "";
  private running = false;
  private presses = 0;
  private cancelling: Promise<void> | undefined;
  private exitCode: number | undefined;
  private historyFile: string | undefined;
  /** True while `:shell` has the terminal: the line reader is closed meanwhile. */
  private inShell = false;
  private shellStop: AbortController | undefined;

  constructor(
    private readonly host: Host,
    private readonly lua: LuaRepl,
    private readonly input: NodeJS.ReadableStream & { isTTY?: boolean },
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly err: NodeJS.WritableStream,
  ) {
    this.tty = input.isTTY === true && out.isTTY === true;
    this.historyFile = this.tty ? historyPath() : undefined;
    this.rl = this.lineReader(loadHistory(this.historyFile));
  }

  /** The line reader; made again after `:shell`, which needs the terminal's raw keys. */
  private lineReader(history: string[]): Interface {
    const rl = createInterface({
      input: this.input,
      output: this.tty ? this.out : undefined,
      terminal: this.tty,
      history,
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      prompt: PROMPT,
    });
    rl.on("line", (line) => {
      this.lines.push(line);
      this.notify();
    });
    rl.on("close", () => {
      if (this.inShell) return;
      this.inputClosed = true;
      this.notify();
    });
    rl.on("SIGINT", () => this.onInterrupt()); // Ctrl-C on a terminal (raw mode)
    rl.on("history", (h: string[]) => this.saveHistory(h));
    return rl;
  }

  /** `:shell ID`: hand the terminal to a shell on ID, then take it back. */
  private async shell(id: string): Promise<void> {
    if (!this.tty) {
      this.err.write(":shell needs a terminal\n");
      return;
    }
    const history = [...((this.rl as Interface & { history?: string[] }).history ?? [])];
    this.inShell = true;
    this.shellStop = new AbortController();
    this.rl.close();
    try {
      const after = await attachShell(this.host, id, { input: this.input as NodeJS.ReadStream, out: this.out as NodeJS.WriteStream, stop: this.shellStop.signal });
      this.out.write(`${after}\n`);
    } catch (e) {
      this.err.write(`${e instanceof ExecError ? `${e.kind}: ${e.message}` : (e as Error).message}\n`);
    } finally {
      this.inShell = false;
      this.shellStop = undefined;
      this.rl = this.lineReader(history);
    }
  }

  async run(): Promise<number> {
    const onSigint = () => this.onInterrupt(); // a signal: piped input, or kill -INT
    const onSigterm = () => {
      this.exitCode ??= 143;
      this.shellStop?.abort();
      this.host.interrupt();
      this.rl.close();
    };
    process.on("SIGINT", onSigint);
    process.on("SIGTERM", onSigterm);
    try {
      if (this.tty) this.banner();
      while (this.exitCode === undefined) {
        this.prompt();
        const line = await this.nextLine();
        if (line === undefined) {
          this.endOfInput();
          break;
        }
        const shellId = this.chunk.length === 0 ? /^\s*:shell(?:\s+(\S+))?\s*$/.exec(line) : null;
        if (shellId) {
          if (shellId[1]) await this.shell(shellId[1]);
          else this.err.write("usage: :shell ID (an executor id; Ctrl-] detaches)\n");
          continue;
        }
        this.chunk.push(line);
        const source = this.chunk.join("\n");
        if (source.trim() === "") {
          this.chunk = [];
          continue;
        }
        const result = await this.evaluate(source);
        if (result?.kind === "incomplete") {
          this.incompleteMessage = result.message;
          continue;
        }
        this.chunk = [];
        if (result) this.show(result);
      }
    } finally {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      this.rl.close();
    }
    return this.exitCode ?? 0;
  }

  private banner(): void {
    let version = "";
    try {
      version = ` ${JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version}`;
    } catch {
      /* version unknown */
    }
    const ids = this.host.registry.ids().join(", ") || "none";
    this.out.write(`moonexec${version} (Lua 5.4): \`exec\` is loaded; executors: ${ids}\nCtrl-C cancels a running line, Ctrl-D exits.\n:shell ID attaches this terminal to a shell on executor ID (Ctrl-] detaches).\n`);
  }

  private prompt(): void {
    if (!this.tty) return;
    this.rl.setPrompt(this.chunk.length > 0 ? CONTINUE_PROMPT : PROMPT);
    this.rl.prompt();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private async nextLine(): Promise<string | undefined> {
    while (this.lines.length === 0 && !this.inputClosed) await new Promise<void>((resolve) => (this.wake = resolve));
    return this.lines.shift();
  }

  /** Run a chunk; undefined when the run was stopped (already reported). */
  private async evaluate(source: string): Promise<EvalResult | undefined> {
    this.running = true;
    this.presses = 0;
    try {
      return await this.lua.eval(source);
    } catch (e) {
      if (e instanceof ScriptStop) {
        if (e.kind === "exit" || e.kind === "disposed") this.exitCode ??= e.exitCode;
        else if (e.kind === "interrupted") {
          await this.cancelling; // the line's commands are dead before the next prompt
          if (this.exitCode === undefined) this.err.write("interrupted\n");
        } else this.err.write(`${e.message}\n`);
        return undefined;
      }
      if (e instanceof LuaScriptError) {
        this.err.write(`${e.message}\n`);
        return undefined;
      }
      throw e;
    } finally {
      this.running = false;
      this.cancelling = undefined;
    }
  }

  private show(r: EvalResult): void {
    if (r.kind === "error" || r.kind === "incomplete") this.err.write(`${r.message}\n`);
    else if (r.text !== undefined) {
      this.out.write(r.text);
      this.out.write("\n");
    }
  }

  /** Ctrl-C: cancel the running line, else clear the line being typed. */
  private onInterrupt(): void {
    if (this.inShell) return; // the shell's terminal has Ctrl-C; Ctrl-] detaches
    if (this.running) {
      this.presses++;
      if (this.presses >= FORCE_EXIT_PRESSES) {
        this.err.write("moonexec: cancelling takes too long; exiting\n");
        process.exit(130);
      }
      this.cancelling ??= this.host.cancel();
      return;
    }
    if (!this.tty) {
      // Piped input has no line to clear: an interrupt between lines ends the session.
      this.exitCode ??= 130;
      this.rl.close();
      return;
    }
    this.chunk = [];
    const rl = this.rl as Interface & { clearLine?: () => void };
    if (typeof rl.clearLine === "function") rl.clearLine();
    else this.out.write("\n");
    this.prompt();
  }

  private endOfInput(): void {
    if (this.tty) this.out.write("\n");
    if (this.chunk.length > 0) this.err.write(`${this.incompleteMessage}\n`);
  }

  private saveHistory(newestFirst: string[]): void {
    if (!this.historyFile) return;
    try {
      saveHistory(this.historyFile, newestFirst);
    } catch (e) {
      this.err.write(`moonexec: cannot save history to ${this.historyFile}: ${(e as Error).message} (history is off for this session)\n`);
      this.historyFile = undefined;
    }
  }
}
