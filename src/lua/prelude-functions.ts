/** Host functions the prelude needs: binary-safe output, os.exit, module files (only in the allowed directories). */
import { readFileSync, statSync } from "node:fs";
import { relative, isAbsolute, resolve, sep } from "node:path";
import type { Writable } from "node:stream";
import { ExecError } from "../errors.js";
import { ScriptStop, type Driver } from "./driver.js";
import type { HostFn } from "./host-functions.js";

export interface HostIO {
  stdout: Writable;
  stderr: Writable;
}

export function preludeFunctions(io: HostIO, driver: Driver, moduleDirs: () => string[]): Record<string, HostFn> {
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

    // package.searchpath: is this file there, and may the script read it?
    module_file: (a) => {
      const where = moduleFile(a.value(1), moduleDirs());
      if (where === "outside") return [false, ` (outside the module directories${DOC})`];
      return [where !== undefined];
    },

    // The Lua searcher: the file's text (first-line comment and BOM skipped).
    module_source: (a) => {
      const where = moduleFile(a.value(1), moduleDirs());
      if (where === "outside") throw new ExecError("INVALID", `outside the module directories${DOC}`);
      if (where === undefined) throw new ExecError("NOT_FOUND", "cannot read the file");
      return [luaSource(readFileSync(where))];
    },
  };
}

const DOC = ", see docs/sandbox.md";

/**
 * A module file the script may read: its path, with `..` resolved, must lie inside one of
 * `dirs` (so probing paths elsewhere says nothing about them). Symlinks inside those
 * directories are followed: they are the user's (Debian links /usr/share/lua/5.4/x.lua to
 * ../5.1/x.lua), and a script cannot make new ones without an executor, which could read
 * the file anyway. "outside" when refused, undefined when there is no such file.
 */
export function moduleFile(name: unknown, dirs: string[]): string | "outside" | undefined {
  if (typeof name !== "string" || name.includes("\0")) return undefined;
  const abs = resolve(name);
  const inside = dirs.map((d) => resolve(d)).some((d) => abs === d || abs.startsWith(d.endsWith(sep) ? d : d + sep));
  if (!inside) return "outside";
  try {
    return statSync(abs).isFile() ? abs : undefined;
  } catch {
    return undefined;
  }
}

/** A source file as lua5.4 reads it: a UTF-8 BOM and a first line starting with '#' are skipped (its newline kept, so line numbers stay). */
export function luaSource(b: Buffer): Buffer {
  let s = b;
  if (s.length >= 3 && s[0] === 0xef && s[1] === 0xbb && s[2] === 0xbf) s = s.subarray(3);
  if (s[0] === 0x23) {
    const nl = s.indexOf(0x0a);
    s = nl < 0 ? s.subarray(s.length) : s.subarray(nl);
  }
  return s;
}

/** Paths in messages: relative to the working directory when below it. */
export function display(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
