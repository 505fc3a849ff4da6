import { describe, it } from "vitest";
/** The engine this test run is on (vitest.config.ts runs some files on each). */
export const ENGINE = (process.env.MOONEXEC_ENGINE || "wasmoon") as "wasmoon" | "fengari";
export const FENGARI = ENGINE === "fengari";
/** How debug.getinfo shows a native function's `what`: C on wasmoon, J (JavaScript) on fengari. */
export const NATIVE_WHAT = FENGARI ? "J" : "C";
export const NATIVE_SRC = FENGARI ? "[JS]" : "[C]";

/**
 * Tests of one engine's own behaviour (a limit only wasmoon can count, 5.4 syntax): registered
 * on that engine's run only, each beside a test of the other engine's answer — not skipped.
 */
const none = (() => {}) as unknown;
export const onWasmoon = (FENGARI ? none : it) as typeof it;
export const onFengari = (FENGARI ? it : none) as typeof it;
export const describeOnWasmoon = (FENGARI ? none : describe) as typeof describe;
