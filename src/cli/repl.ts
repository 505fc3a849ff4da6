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
  private readonly rl: Interface;
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

  constructor(
    private readonly host: Host,
    private readonly lua: LuaRepl,
    input: NodeJS.ReadableStream & { isTTY?: boolean },
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly err: NodeJS.WritableStream,
  ) {
    this.tty = input.isTTY === true && out.isTTY === true;
    this.historyFile = this.tty ? historyPath() : undefined;
    this.rl = createInterface({
      input,
      output: this.tty ? out : undefined,
      terminal: this.tty,
      history: loadHistory(this.historyFile),
      historySize: HISTORY_SIZE,
      removeHistoryDuplicates: true,
      prompt: PROMPT,
    });
    this.rl.on("line", (line) => {
      this.lines.push(line);
      this.notify();
    });
    this.rl.on("close", () => {
      this.inputClosed = true;
      this.notify();
    });
    this.rl.on("SIGINT", () => this.onInterrupt()); // Ctrl-C on a terminal (raw mode)
    this.rl.on("history", (h: string[]) => this.saveHistory(h));
  }

  async run(): Promise<number> {
    const onSigint = () => this.onInterrupt(); // a signal: piped input, or kill -INT
    const onSigterm = () => {
      this.exitCode ??= 143;
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
    this.out.write(`moonexec${version} (Lua 5.4): \`exec\` is loaded; executors: ${ids}\nCtrl-C cancels a running line, Ctrl-D exits.\n`);
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
