/** Natives the prelude needs: binary-safe output, os.exit, module lookup. */
import { readFileSync, statSync } from "node:fs";
import { join, relative, isAbsolute } from "node:path";
import type { Writable } from "node:stream";
import { ExecError } from "../errors.js";
import { ScriptStop, type Driver } from "./driver.js";
import type { NativeFn } from "./natives.js";

export interface HostIO {
  stdout: Writable;
  stderr: Writable;
}

export function hostNatives(io: HostIO, driver: Driver, moduleDirs: () => string[]): Record<string, NativeFn> {
  return {
    write: (a) => {
      const fd = a.value(1);
      const data = a.bytes(2, "write: data");
      const out = fd === 2 ? io.stderr : io.stdout;
      if (out.write(data)) return [true];
      return new Promise((resolve) => out.once("drain", () => resolve([true])));
    },

    exit: (a) => {
      const v = a.value(1);
      const code = v === undefined || v === true ? 0 : v === false ? 1 : typeof v === "number" ? v & 0xff : NaN;
      if (Number.isNaN(code)) throw new ExecError("INVALID", "os.exit: code must be a number or boolean");
      driver.stop(new ScriptStop(`exit ${code}`, code, "exit"));
      return new Promise<unknown[]>(() => {}); // never answered: the driver ends the script
    },

    find_module: (a) => {
      const name = a.value(1);
      if (typeof name !== "string") throw new ExecError("INVALID", "require: module name must be a string");
      const rel = name.replace(/\./g, "/");
      const tried: string[] = [];
      for (const dir of moduleDirs()) {
        for (const candidate of [join(dir, `${rel}.lua`), join(dir, rel, "init.lua")]) {
          tried.push(candidate);
          try {
            if (statSync(candidate).isFile()) return [readFileSync(candidate), display(candidate)];
          } catch {
            /* not here */
          }
        }
      }
      return [undefined, tried.map((t) => `\n\tno file '${display(t)}'`).join("")];
    },
  };
}

/** Paths in messages: relative to the working directory when below it. */
export function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
