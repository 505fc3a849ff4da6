/**
 * Natives behind lua/task.lua: concurrent tasks inside one script. Each task is its own Lua
 * thread driven by the scheduler (driver.ts), so a task blocked on a read or wait does not
 * block the others.
 */
import { ExecError } from "../errors.js";
import { LuaType, LUA_REGISTRYINDEX } from "./wasmoon.js";
import type { Driver } from "./driver.js";
import type { Args, NativeFn } from "./natives.js";
import type { Handles } from "./handles.js";
import type { LuaStack } from "./values.js";
import { ProcView, StreamHandle } from "./exec-natives.js";

interface TaskState {
  done: Promise<void>;
  finished: boolean;
}

export function taskNatives(stack: LuaStack, driver: Driver, handles: Handles): Record<string, NativeFn> {
  const lua = stack.lua;
  const tasks = new Map<number, TaskState>();

  const seconds = (v: unknown, what: string): number | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== "number" || !(v >= 0) || !Number.isFinite(v)) throw new ExecError("INVALID", `${what}: timeout must be a number of seconds ≥ 0`);
    return v;
  };
  const timeout = (s: number) =>
    new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), s * 1000));

  /** When `item` ({kind, h}) is ready: at once (true) or a promise. */
  const readiness = (item: unknown, i: number): true | Promise<unknown> => {
    const { kind, h } = (item ?? {}) as { kind?: string; h?: number };
    if (kind === "stream") {
      const s = handles.get(h, StreamHandle, "stream");
      return s.stream.readable ? true : s.proc.block(s.stream.changed());
    }
    if (kind === "process") {
      const v = handles.get(h, ProcView, "process");
      return v.proc.state === "exited" ? true : v.proc.block(v.proc.whenDone());
    }
    if (kind === "task") {
      const t = typeof h === "number" ? tasks.get(h) : undefined;
      if (!t) throw new ExecError("INVALID", `task.select: item ${i} is not a live task`);
      return t.finished ? true : t.done;
    }
    throw new ExecError("INVALID", `task.select: item ${i} must be a stream, a process or a task`);
  };

  return {
    task_spawn: (a: Args) => {
      const L = a.L;
      if (lua.lua_type(L, 1) !== LuaType.Function) throw new ExecError("INVALID", "task.spawn: fn must be a function");
      const T = lua.lua_newthread(L); // pushed on L
      const ref = lua.luaL_ref(L, LUA_REGISTRYINDEX); // pops it; keeps the thread alive while it runs
      lua.lua_pushvalue(L, 1);
      lua.lua_xmove(L, T, 1);
      let settle!: () => void;
      const state: TaskState = { done: new Promise((r) => (settle = r)), finished: false };
      const task = driver.spawn(T, 0, () => {
        state.finished = true;
        settle();
        tasks.delete(task.id);
        lua.luaL_unref(T, LUA_REGISTRYINDEX, ref); // the spawning thread may be gone by now; T is not

      });
      tasks.set(task.id, state);
      return [task.id];
    },

    task_wait: (a: Args) => {
      const t = tasks.get(a.integer(1, "task.wait: task"));
      if (!t || t.finished) return [true];
      const limit = seconds(a.value(2), "task.wait");
      if (limit === undefined) return t.done.then(() => [true]);
      return Promise.race([t.done, timeout(limit)]).then((r) => {
        if (r === "timeout") throw new ExecError("TIMEOUT", `task.wait: task still running after ${limit}s`);
        return [true];
      });
    },

    task_select: (a: Args) => {
      const items = a.value(1);
      if (!Array.isArray(items) || items.length === 0) throw new ExecError("INVALID", "task.select: items must be a non-empty list");
      const limit = seconds(a.value(2), "task.select");
      const waits: Promise<number>[] = [];
      for (let i = 0; i < items.length; i++) {
        const r = readiness(items[i], i + 1);
        if (r === true) return [i + 1];
        waits.push(r.then(() => i + 1));
      }
      if (limit !== undefined) waits.push(timeout(limit).then(() => 0));
      return Promise.race(waits).then((i) => {
        if (i === 0) throw new ExecError("TIMEOUT", `task.select: nothing ready within ${limit}s`);
        return [i];
      });
    },

    sleep: (a: Args) => {
      const s = seconds(a.value(1), "task.sleep") ?? 0;
      return timeout(s).then(() => [true]);
    },
  };
}
