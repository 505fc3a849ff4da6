/** Numbered handles for host objects the Lua side refers to. */
import { ExecError } from "../errors.js";
import { COLLECT_MIN } from "../constants.js";
import type { HostFn } from "./host-functions.js";

export class Handles {
  private next = 1;
  private readonly map = new Map<number, unknown>();
  private collectAt = COLLECT_MIN;
  private collecting = false;

  /** `finalizers`: the engine runs __gc (fengari does not: handles then live until release or dispose). */
  constructor(private readonly finalizers = true) {}

  add(obj: unknown): number {
    const id = this.next++;
    this.map.set(id, obj);
    return id;
  }

  get<T>(id: unknown, type: abstract new (...a: any[]) => T, what: string): T {
    const obj = typeof id === "number" ? this.map.get(id) : undefined;
    if (!(obj instanceof type)) throw new ExecError("CLOSED", `${what} is no longer valid`);
    return obj;
  }

  delete(id: number): void {
    this.map.delete(id);
  }

  /**
   * Should the Lua side run its collector before making another object? A handle is freed
   * when Lua collects the object that holds it, and Lua's collector only counts its own
   * memory: a small table keeps a finished process with its streams and connections, so
   * without this they pile up in a script that mostly runs commands (figures in
   * docs/performance.md). Asked for each time the live handles double (at least
   * COLLECT_MIN): a script that keeps many objects pays one collection per doubling.
   */
  collectDue(): boolean {
    if (!this.finalizers) return false;
    if (this.collecting) {
      // The collection ran since the last question: what is left is live.
      this.collecting = false;
      this.collectAt = Math.max(COLLECT_MIN, 2 * this.map.size);
    }
    if (this.map.size < this.collectAt) return false;
    this.collecting = true;
    return true;
  }
}

/** The Lua side's half of handle lifetimes: when to collect, and a collected object's handle. */
export function handleFunctions(handles: Handles): Record<string, HostFn> {
  return {
    collect_due: () => [handles.collectDue()],
    free: (a) => {
      const h = a.value(1);
      if (typeof h === "number") handles.delete(h);
      return [];
    },
  };
}
