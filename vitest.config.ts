import { defineConfig } from "vitest/config";

/**
 * The files that run a second time on the fengari engine (MOONEXEC_ENGINE reaches Host.create
 * and the CLI children alike). sandbox-finalizers is not among them: fengari runs no __gc at all.
 * Backend paths other than native are engine-independent, so the
 * conformance suite runs on native only there (test/helpers/backends.ts).
 */
const ON_FENGARI = [
  "test/cli/lua-host.test.ts",
  "test/cli/lua-standard.test.ts",
  "test/cli/sandbox-escape.test.ts",
  "test/cli/background-tasks.test.ts",
  "test/cli/limits.test.ts",
  "test/cli/repl.test.ts",
  "test/backend/conformance.test.ts",
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Backend tests start real processes and containers; keep two workers on two cores.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "wasmoon", include: ["test/**/*.test.ts"], env: { MOONEXEC_ENGINE: "wasmoon" } } },
      { extends: true, test: { name: "fengari", include: ON_FENGARI, env: { MOONEXEC_ENGINE: "fengari" } } },
    ],
  },
});
