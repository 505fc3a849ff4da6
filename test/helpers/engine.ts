/** The engine this test run is on (vitest.config.ts runs some files on each). */
export const ENGINE = (process.env.MOONEXEC_ENGINE || "wasmoon") as "wasmoon" | "fengari";
export const FENGARI = ENGINE === "fengari";
/** How debug.getinfo shows a native function's `what`: C on wasmoon, J (JavaScript) on fengari. */
export const NATIVE_WHAT = FENGARI ? "J" : "C";
export const NATIVE_SRC = FENGARI ? "[JS]" : "[C]";
