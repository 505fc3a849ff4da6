/** Lua modules written in TypeScript by the embedding application (HostOptions.modules). */
import { ExecError } from "../errors.js";
import type { HostFn } from "./host-functions.js";

export type UserFunction = (...args: any[]) => unknown;
export type UserModule = Record<string, UserFunction>;

const MULTI = Symbol("moonexec.multi");

/** Return several values to Lua from a TypeScript module function. */
export function multi(...values: unknown[]): unknown[] {
  return Object.assign(values, { [MULTI]: true });
}

export function userFunction(fn: UserFunction): HostFn {
  const answer = (v: unknown): unknown[] => (Array.isArray(v) && MULTI in v ? v : [v]);
  return (args) => {
    const values = [];
    for (let i = 1; i <= args.count; i++) values.push(args.value(i));
    let result: unknown;
    try {
      result = fn(...values);
    } catch (e) {
      throw e instanceof ExecError ? e : new ExecError("INTERNAL", e instanceof Error ? e.message : String(e));
    }
    return result instanceof Promise ? result.then(answer) : answer(result);
  };
}
