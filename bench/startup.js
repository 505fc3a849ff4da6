// Start-up: `moonexec run empty.lua` against `node -e ''`.
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compare, record, run, pairedRatio } from "./lib.js";

export async function benchStartup() {
  const dir = mkdtempSync(join(tmpdir(), "moonexec-bench-"));
  const empty = join(dir, "empty.lua");
  writeFileSync(empty, "");
  const bin = fileURLToPath(new URL("../bin/moonexec.js", import.meta.url));
  const plain = fileURLToPath(new URL("./cpu-plain.cjs", import.meta.url));
  const t = await compare(
    {
      moonexec: () => run(process.execPath, [bin, "run", empty], { cwd: dir }),
      node: () => run(process.execPath, ["-e", ""]),
      wasmoon: () => run(process.execPath, [plain, empty], { cwd: dir }),
    },
    7,
  );
  record("start-up: moonexec run empty.lua", t.moonexec, t.node, "node -e ''", 2, { ratio: pairedRatio(t, "moonexec", "node") });
  // How much of it is wasmoon's own (reported): plain wasmoon running the same empty file.
  record("start-up: plain wasmoon, empty.lua", t.wasmoon, t.node, "node -e ''", undefined, { ratio: pairedRatio(t, "wasmoon", "node") });
}
