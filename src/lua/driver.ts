/**
 * Runs Lua threads to completion, serving their host waits — the one place a script blocks.
 *
 * wasmoon's own run loop awaits promises yielded by `p:await()`, which breaks inside user
 * coroutines. Here the prelude passes host waits up as (AWAIT, id) yields through any
 * user coroutines to the thread's top, and this scheduler resumes the thread with the
 * answer once the wait settles. Several threads (the script's main chunk and its
 * `task.spawn` tasks) can wait at once; each resumes as its own wait settles.
 *
 * It also enforces the time limit (a count hook yields or errors when the deadline passes,
 * so pcall cannot swallow it) and gives the event loop a turn every few milliseconds so
 * SIGINT is seen during CPU-bound Lua.
 */
import { HookMask, LuaType, type LuaState, type Status } from "./engine/engine.js";
import type { LuaStack, LuaValue } from "./values.js";
import { AWAIT_BYTES, SLICE_BYTES, pushOutcome, type PendingTable, type Outcome } from "./host-functions.js";
import { ScriptHooks } from "./script-hooks.js";
import { resumeUnderSignals } from "./resume-signals.js";
import { HOOK_EVERY, SLICE_MS } from "../constants.js";

/** The script ended on purpose (os.exit) or was stopped (limit, SIGINT). */
export class ScriptStop extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly kind: "exit" | "time-limit" | "interrupted" | "disposed",
  ) {
    super(message);
    this.name = "ScriptStop";
  }
}

/** A Lua error with its traceback. */
export class LuaScriptError extends Error {
  constructor(
    message: string,
    readonly traceback: string,
  ) {
    super(message);
    this.name = "LuaScriptError";
  }
}

/** A Lua thread the scheduler drives. */
export interface Task {
  readonly id: number;
  readonly L: LuaState;
  /** Called when the thread returns (results still on its stack) or fails. */
  finish(L: LuaState, count: number, error: Error | undefined): void;
  dead: boolean;
}

interface Ready {
  task: Task;
  nres: number;
}

export class Driver {
  private stopReason: ScriptStop | undefined;
  private deadline = Infinity;
  private sliceStart = 0;
  private runningL: LuaState | undefined;
  private ready: Ready[] = [];
  private wakeLoop: (() => void) | undefined;
  private live = new Set<Task>();
  private nextTaskId = 1;
  private sliceInFlight = false;
  private describeRef = 0;
  /** The script's own hooks share the one C hook below (see script-hooks.ts). */
  readonly scriptHooks: ScriptHooks;

  constructor(
    private readonly stack: LuaStack,
    private readonly pending: PendingTable,
    private readonly timeLimitSeconds?: number,
    /** The process ends with the script: see `hooked`. */
    private readonly watched = false,
  ) {
    this.hooked = !watched || timeLimitSeconds !== undefined;
    this.scriptHooks = new ScriptHooks(stack);
    stack.lua.setHookHandler((L, ar) => this.onHook(L, ar));
  }

  /** A Lua function (registry ref) that turns an error value into text, run with the limits on. */
  setErrorDescriber(ref: number): void {
    this.describeRef = ref;
  }

  /**
   * A resume ran under V8's SIGINT watchdog and was interrupted mid-instruction: the Lua
   * state is unusable. Nothing may call into it again (not even to free it).
   */
  broken = false;
  /**
   * Watched: each resume runs under V8's SIGINT watchdog, which stops Lua anywhere, even where
   * it cannot yield; the VM is then given up (`broken`). Without a time limit there is no count
   * hook then (it makes every instruction go through Lua's hook check: CPU-bound Lua runs at
   * half speed), and no time slices: only a SIGINT is seen during a CPU loop.
   */
  private readonly hooked: boolean;

  stop(reason: ScriptStop): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.wakeLoop?.(); // an idle scheduler wakes and sees the reason
  }

  /**
   * Put the host's count hook on thread L (also the global thread: finalizers run there), or
   * none when this driver runs unhooked (see `hooked`); script hooks go on through scriptHooks.
   */
  installHook(L: LuaState): void {
    this.scriptHooks.probe(L);
    if (this.hooked) this.scriptHooks.hostHook(L, HookMask.Count, HOOK_EVERY);
  }

  /** The C hook of every hooked thread: the script's hooks first, then the limits and time slices. */
  private onHook(hookL: LuaState, ar: unknown): void {
    const lua = this.stack.lua;
    if (this.scriptHooks.dispatch(hookL, ar)) return;
    const now = Date.now();
    if (now > this.deadline) this.stop(new ScriptStop(`time limit of ${this.timeLimitSeconds}s exceeded`, 1, "time-limit"));
    if (this.stopReason) return this.unwind(hookL, this.stopReason);
    this.scriptHooks.unhurry(hookL); // left over from a stopped run
    if (now - this.sliceStart < SLICE_MS || !lua.isyieldable(hookL)) return;
    // A coroutine's yield goes to whoever resumed it: the prelude's resume asks
    // took_slice() and passes the pause up to the scheduler.
    if (hookL !== this.runningL) this.sliceInFlight = true;
    lua.yieldFromHook(hookL);
  }

  /**
   * The run is stopped and `hookL` still runs Lua: end it. From here on every instruction of
   * this thread and of the run's top thread calls the hook, so a pcall (or a coroutine) that
   * caught the stop meets it again at its next instruction, and so on up to the scheduler.
   */
  private unwind(hookL: LuaState, reason: ScriptStop): void {
    const lua = this.stack.lua;
    for (const L of [hookL, this.runningL]) if (L) this.scriptHooks.hurry(L);
    if (hookL === this.runningL && lua.isyieldable(hookL)) {
      lua.yieldFromHook(hookL); // straight back to the scheduler, which ends the run
      return;
    }
    // Lua runs a message handler called for an error raised in a hook with hooks off: one
    // that loops would never be stopped. Hooks on, it meets this same error at once.
    if (this.scriptHooks.allowHook) lua.setAllowHook(hookL, true);
    this.stack.push(hookL, reason.message);
    lua.error(hookL);
  }

  /** The prelude's resume: did the coroutine just pause for a time slice (not yield)? */
  tookSlice(): boolean {
    const was = this.sliceInFlight;
    this.sliceInFlight = false;
    return was;
  }

  /**
   * Add a thread whose function and arguments are on its stack; it starts on the next
   * scheduler turn. Threads created from a hooked thread inherit the hook.
   */
  spawn(L: LuaState, nargs: number, finish: Task["finish"]): Task {
    const task: Task = { id: this.nextTaskId++, L, finish, dead: false };
    this.live.add(task);
    this.ready.push({ task, nres: nargs });
    this.wakeLoop?.();
    return task;
  }

  /**
   * Run `thread` (function and nargs already pushed) as the main task until it returns;
   * tasks it spawned run alongside and are dropped when it ends.
   */
  async run(thread: LuaState, nargs: number, keep?: (L: LuaState, count: number) => void): Promise<LuaValue[]> {
    // A time limit or an interrupt ends one top-level run (a script, a REPL line, a plugin
    // call); the next run starts fresh. Exit and dispose are final.
    if (this.broken) throw new ScriptStop("the Lua VM was interrupted inside CPU-bound code and cannot run again", 130, "interrupted");
    const k = this.stopReason?.kind;
    if (k === "time-limit" || k === "interrupted") this.stopReason = undefined;
    this.deadline = this.timeLimitSeconds ? Date.now() + this.timeLimitSeconds * 1000 : Infinity;
    this.installHook(thread);

    let result: { values?: LuaValue[]; error?: Error } | undefined;
    const main = this.spawn(thread, nargs, (L, count, error) => {
      if (error) return void (result = { error });
      const top = this.stack.lua.gettop(L);
      const values: LuaValue[] = [];
      for (let i = top - count + 1; i <= top; i++) values.push(this.stack.read(L, i));
      keep?.(L, count);
      result = { values };
    });
    try {
      while (!result) {
        if (this.stopReason) throw this.stopReason;
        const next = this.ready.shift();
        if (!next) {
          await this.idle();
          continue;
        }
        if (next.task.dead) continue;
        if (await this.step(next)) await new Promise((r) => setImmediate(r)); // time slice: let signals and I/O in
      }
      if (result.error) throw result.error;
      return result.values!;
    } finally {
      // Tasks do not outlive their run: drop them (their finish frees their threads).
      const abandoned = this.broken ? [] : [...this.live].filter((t) => t !== main);
      this.live.clear();
      this.ready = [];
      for (const t of abandoned) {
        t.dead = true;
        t.finish(t.L, 0, new LuaScriptError("task abandoned: its run ended", ""));
      }
      main.dead = true;
    }
  }

  /** Resume one thread until it yields or ends. Returns true when it only paused for a time slice. */
  private async step({ task, nres }: Ready): Promise<boolean> {
    const lua = this.stack.lua;
    const L = task.L;
    this.runningL = L;
    this.sliceStart = Date.now();
    const [status, n] = this.resume(L, nres);
    this.runningL = undefined;
    if (status === "ok") {
      this.end(task, L, n, undefined);
      return false;
    }
    if (status !== "yield") {
      this.end(task, L, 0, this.errorFrom(L, status));
      return false;
    }
    let awaitId: number | undefined;
    if (n === 2 && this.stack.isBytes(L, -2, AWAIT_BYTES)) awaitId = this.stack.read(L, -1) as number;
    const slice = n === 0 || (n === 1 && this.stack.isBytes(L, -1, SLICE_BYTES));
    lua.settop(L, -n - 1);
    if (awaitId !== undefined) {
      const p = this.pending.take(awaitId);
      if (!p) {
        this.end(task, L, 0, new LuaScriptError("internal error: unknown host wait", ""));
        return false;
      }
      void p.then((outcome) => this.answer(task, outcome));
      return false;
    }
    if (slice) {
      this.sliceInFlight = false;
      this.ready.push({ task, nres: 0 });
      return true;
    }
    this.end(task, L, 0, new LuaScriptError("attempt to yield from outside a coroutine", ""));
    return false;
  }

  private answer(task: Task, outcome: Outcome): void {
    if (task.dead) return;
    this.ready.push({ task, nres: pushOutcome(this.stack, task.L, outcome) });
    this.wakeLoop?.();
  }

  private end(task: Task, L: LuaState, count: number, error: Error | undefined): void {
    task.dead = true;
    this.live.delete(task);
    task.finish(L, count, error);
    this.stack.lua.settop(L, 0);
  }

  /**
   * Wait until a thread is ready, the run is stopped, or the deadline passes. Only a fresh
   * promise per wait: racing a long-lived one (say, "stopped") would add a reaction to it on
   * every wait, and those pile up until it settles — thousands per second on a busy stream,
   * enough to make V8 grow its young generation and mark-compact every few MB.
   */
  private async idle(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve) => {
        this.wakeLoop = resolve;
        if (this.deadline !== Infinity) timer = setTimeout(resolve, Math.max(0, this.deadline - Date.now()));
      });
    } finally {
      this.wakeLoop = undefined;
      clearTimeout(timer);
    }
    if (Date.now() >= this.deadline) this.stop(new ScriptStop(`time limit of ${this.timeLimitSeconds}s exceeded`, 1, "time-limit"));
  }

  private resume(L: LuaState, nargs: number): [Status, number] {
    const lua = this.stack.lua;
    if (!this.watched) return lua.resume(L, nargs);
    try {
      const r = resumeUnderSignals(() => lua.resume(L, nargs));
      // A SIGINT that came while Lua was idle ends the run before it resumes.
      if (!r) throw this.stopReason ?? new ScriptStop("interrupted", 130, "interrupted");
      return r.value;
    } catch (e) {
      if ((e as { code?: string }).code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw e;
      this.broken = true;
      process.exitCode = 130; // watched: the host owns the process; see run.ts's stop()
      this.stop(new ScriptStop("interrupted", 130, "interrupted"));
      throw this.stopReason;
    }
  }

  /**
   * The error value at L's top as text (popped). Strings as they are; anything else through
   * the describer, on a fresh thread with the host's hook, inside a pcall: a __tostring that
   * errors, loops or yields must not take the host down.
   */
  private describeError(L: LuaState): string {
    const lua = this.stack.lua;
    const t = lua.type(L, -1);
    if (t === LuaType.String || t === LuaType.Number || !this.describeRef) {
      const s = this.stack.bytes(L, -1)?.toString("utf8") ?? `(error object is a ${lua.typename(L, t)} value)`;
      lua.settop(L, -2);
      return s;
    }
    lua.checkstack(L, 2); // a thread that died may have no room left (fengari checks)
    const T = lua.newthread(L);
    lua.rotate(L, -2, 1); // thread below the error value
    this.installHook(T);
    lua.pushref(T, this.describeRef);
    lua.xmove(L, T, 1);
    const [status] = this.resume(T, 1);
    const s = status === "ok" ? (this.stack.bytes(T, -1)?.toString("utf8") ?? "?") : "(error object could not be described)";
    lua.settop(L, -2); // the thread
    return s;
  }

  private errorFrom(L: LuaState, code: Status): Error {
    if (this.stopReason) return this.stopReason;
    if (code === "memory") return new LuaScriptError("memory limit exceeded (not enough memory)", "");
    const message = this.describeError(L);
    return new LuaScriptError(message, this.stack.lua.traceback(L));
  }
}
