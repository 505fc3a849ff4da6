/**
 * The backends the conformance tests run on. Each says how to configure an executor
 * `test:box` and whether its daemon is here. A missing daemon skips that backend's
 * tests with the reason — except under CI (CI=true), where it fails the run.
 */
import { describe, it } from "vitest";
import { FENGARI } from "./engine.js";

export interface BackendUnderTest {
  name: string;
  /** YAML of the `entries:` list item for the executor named `box` (namespace `test`). */
  entryYaml: string;
  /** undefined when usable, else why not. */
  unavailable(): Promise<string | undefined>;
}

export const EXECUTOR_ID = "test:box";

export function configFor(b: BackendUnderTest, extra = ""): string {
  return `namespace: test\nentries:\n${indent(b.entryYaml)}${extra ? "\n" + indent(extra) : ""}\n`;
}

function indent(yaml: string): string {
  return yaml
    .trim()
    .split("\n")
    .map((l, i) => (i === 0 ? `  - ${l}` : `    ${l}`))
    .join("\n");
}

export const native: BackendUnderTest = {
  name: "native",
  entryYaml: `name: box\nkind: exec.native\ndefault_env:\n  PATH: "${process.env.PATH}"`,
  unavailable: async () => undefined,
};

const registered: BackendUnderTest[] = [native];

/** Backends register themselves here (see test/helpers/docker.ts, incus.ts). */
export function registerBackend(b: BackendUnderTest): void {
  registered.push(b);
}

/** On fengari only native: the other backends' Lua paths are the same on every engine. */
export function allBackends(): BackendUnderTest[] {
  return FENGARI ? [native] : registered;
}

/** describe() for one backend: skipped with the reason when its daemon is missing, failing under CI. */
export function describeBackend(b: BackendUnderTest, body: () => void): void {
  describe(`backend ${b.name}`, async () => {
    const reason = await b.unavailable();
    if (reason && process.env.CI) {
      it(`${b.name} is available (required under CI)`, () => {
        throw new Error(`${b.name} backend unavailable under CI: ${reason}`);
      });
      return;
    }
    if (reason) {
      it.skip(`${b.name} unavailable: ${reason}`, () => {});
      return;
    }
    body();
  });
}
