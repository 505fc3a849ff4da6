// Bundles the CLI into CommonJS files under dist/bundle/, for start-up time.
//
// Through Node's ESM loader every module costs a resolve, stat, read and link, and execa 9 is
// about a hundred of them; one CJS file for our code and one for execa load much faster.
// The library (dist/index.js) stays plain tsc output.
import { build } from "esbuild";
import { createRequire } from "node:module";
import { rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = `${root}dist/bundle`;
rmSync(outdir, { recursive: true, force: true });
/** `import("execa")` becomes a require() of dist/bundle/execa.cjs (an external import() would go through the ESM loader). */
const execaBundle = {
  name: "execa-bundle",
  setup(b) {
    b.onResolve({ filter: /^execa$/ }, () => ({ path: "execa", namespace: "execa-bundle" }));
    b.onLoad({ filter: /.*/, namespace: "execa-bundle" }, () => ({ contents: 'module.exports = require("./execa.cjs");', loader: "js" }));
    b.onResolve({ filter: /^\.\/execa\.cjs$/ }, () => ({ path: "./execa.cjs", external: true }));
  },
};
const common = { bundle: true, format: "cjs", platform: "node", target: "node20", logLevel: "warning", absWorkingDir: root };

// execa, required on the first native command.
await build({ ...common, entryPoints: [createRequire(import.meta.url).resolve("execa")], outfile: `${outdir}/execa.cjs` });

await build({
  ...common,
  entryPoints: ["src/cli/main.ts"],
  outfile: `${outdir}/moonexec.cjs`,
  sourcemap: true,
  // CommonJS packages stay outside the bundle and load with require() when first used.
  external: ["wasmoon", "fengari", "dockerode", "ws", "yaml", "iconv-lite", "ssh2", "@lydell/node-pty"],
  plugins: [execaBundle],
  // The sources find lua/ and package.json from import.meta.url; the bundle sits at the same
  // depth (dist/<folder>/) as the tsc output, so the relative paths still hold.
  define: { "import.meta.url": "__moonexec_url" },
  banner: { js: 'const __moonexec_url = require("node:url").pathToFileURL(__filename).href;' },
});

// The code cache (bin/code-cache.cjs): one run of an empty script with the CLI as users start it.
const empty = `${outdir}/empty.lua`;
writeFileSync(empty, "");
execFileSync(process.execPath, [`${root}bin/moonexec.js`, "run", empty], { env: { ...process.env, MOONEXEC_CODE_CACHE: "write" }, stdio: "inherit" });
rmSync(empty);
