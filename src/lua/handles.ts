/** Numbered handles for host objects the Lua side refers to. */
import { ExecError } from "../errors.js";

export class Handles {
  private next = 1;
  private readonly map = new Map<number, unknown>();

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
}
