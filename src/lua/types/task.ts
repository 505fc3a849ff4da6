/**
 * task: the host functions behind lua/task.lua: concurrent tasks inside one script. Each task is its own Lua
 * thread driven by the scheduler (driver.ts), so a task blocked on a read or wait does not
 * block the others.
 */
import { ExecError } from "../../errors.js";
import { LuaType } from "../engine/engine.js";
import type { Driver } from "../driver.js";
import type { Args, HostFn } from "../host-functions.js";
import type { Handles } from "../handles.js";
import type { LuaStack } from "../values.js";
import { checkTimeout } from "../../process/timeout.js";
import { ProcHandle } from "./proc.js";
import { StreamHandle } from "./stream.js";

interface TaskState {
  finished: boolean;
  /** Called once when the task ends; a wait that gives up removes its own. */
  waiters: Set<() => void>;
}

export function taskFunctions(stack: LuaStack, driver: Driver, handles: Handles): Record<string, HostFn> {
  const lua = stack.lua;
  const tasks = new Map<number, TaskState>();

  const seconds = (v: unknown, what: string): number | undefined => (v === undefined ? undefined : checkTimeout(v, `${what}: timeout`, true));
  /** A wait that ends after `s` seconds; `cancel` clears its timer. */
  const after = (s: number): { ended: Promise<"timeout">; cancel: () => void } => {
    let timer!: NodeJS.Timeout;
    const ended = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), s * 1000)));
    return { ended, cancel: () => clearTimeout(timer) };
  };

  /**
   * Resolves when the task ends. `cancel` withdraws the wait, so a wait that timed out leaves
   * nothing on a long-running task (racing one shared promise would add to it every time).
   */
  const whenFinished = (t: TaskState): { ended: Promise<void>; cancel: () => void } => {
    let waiter!: () => void;
    const ended = new Promise<void>((resolve) => t.waiters.add((waiter = resolve)));
    return { ended, cancel: () => t.waiters.delete(waiter) };
  };

  /**
   * The first of `waits` to settle, or "timeout" after `limit` seconds; then every wait's
   * `cancel` runs (the timer's too), so nothing outlives the call.
   */
  const firstOrTimeout = async <T>(waits: Array<{ ended: Promise<T>; cancel?: () => void }>, limit: number | undefined): Promise<T | "timeout"> => {
    const all: Array<{ ended: Promise<T | "timeout">; cancel?: () => void }> = limit === undefined ? waits : [...waits, after(limit)];
    try {
      return await Promise.race(all.map((w) => w.ended));
    } finally {
      for (const w of all) w.cancel?.();
    }
  };

  /** When `item` ({kind, h}) is ready: at once (true) or a wait. */
  const readiness = (item: unknown, i: number): true | { ended: Promise<unknown>; cancel?: () => void } => {
    const { kind, h } = (item ?? {}) as { kind?: string; h?: number };
    if (kind === "stream") {
      const s = handles.get(h, StreamHandle, "stream");
      return s.stream.readable ? true : { ended: s.proc.waitedOn(s.stream.changed()) };
    }
    if (kind === "process") {
      const p = handles.get(h, ProcHandle, "process").proc;
      return p.state === "exited" ? true : { ended: p.waitedOn(p.whenDone()) };
    }
    if (kind === "task") {
      const t = typeof h === "number" ? tasks.get(h) : undefined;
      if (!t) throw new ExecError("INVALID", `task.select: item ${i} is not a live task`);
      return t.finished ? true : whenFinished(t);
    }
    throw new ExecError("INVALID", `task.select: item ${i} must be a stream, a process or a task`);
  };

  return {
    task_spawn: (a: Args) => {
      const L = a.L;
      if (lua.type(L, 1) !== LuaType.Function) throw new ExecError("INVALID", "task.spawn: fn must be a function");
      const T = lua.newthread(L); // pushed on L
      const ref = lua.ref(L); // pops it; keeps the thread alive while it runs
      lua.pushvalue(L, 1);
      lua.xmove(L, T, 1);
      const state: TaskState = { finished: false, waiters: new Set() };
      const task = driver.spawn(T, 0, () => {
        state.finished = true;
        for (const w of state.waiters) w();
        state.waiters.clear();
        tasks.delete(task.id);
        lua.unref(lua.main, ref); // the spawning thread may be gone by now, and T may be dead without stack room

      });
      tasks.set(task.id, state);
      return [task.id];
    },

    task_wait: (a: Args) => {
      const t = tasks.get(a.integer(1, "task.wait: task"));
      if (!t || t.finished) return [true];
      const limit = seconds(a.value(2), "task.wait");
      return firstOrTimeout([whenFinished(t)], limit).then((r) => {
        if (r === "timeout") throw new ExecError("TIMEOUT", `task.wait: task still running after ${limit}s`);
        return [true];
      });
    },

    task_select: (a: Args) => {
      const items = a.value(1);
      if (!Array.isArray(items) || items.length === 0) throw new ExecError("INVALID", "task.select: items must be a non-empty list");
      const limit = seconds(a.value(2), "task.select");
      const waits: Array<{ ended: Promise<number>; cancel?: () => void }> = [];
      let waiting = false;
      try {
        for (let i = 0; i < items.length; i++) {
          const r = readiness(items[i], i + 1);
          if (r === true) return [i + 1];
          waits.push({ ended: r.ended.then(() => i + 1), cancel: r.cancel });
        }
        waiting = true;
        return firstOrTimeout(waits, limit).then((i) => {
          if (i === "timeout") throw new ExecError("TIMEOUT", `task.select: nothing ready within ${limit}s`);
          return [i];
        });
      } finally {
        if (!waiting) for (const w of waits) w.cancel?.(); // answered at once or bad item: withdraw
      }
    },

    sleep: (a: Args) => {
      const s = seconds(a.value(1), "task.sleep") ?? 0;
      return after(s).ended.then(() => [true]);
    },
  };
}
