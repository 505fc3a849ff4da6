import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Backend tests start real processes and containers; keep two workers on two cores.
    maxWorkers: 2,
  },
});
