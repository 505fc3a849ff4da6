// A V8 code cache for the CLI's two large scripts: the bundle and wasmoon's glue. Node 20
// compiles every script from source at each start; with the cache V8 takes the compiled
// functions as they were after a run of an empty script (scripts/bundle.mjs makes the cache,
// docs/performance-cpu.md has the figures). V8 rejects a cache made by another Node or with
// other flags, and then compiles as usual. It checks only the source's length, so the file's
// size and mtime are part of the cache's name: a changed file never meets an old cache.
const Module = require("node:module");
const vm = require("node:vm");
const fs = require("node:fs");
const path = require("node:path");

const DIR = path.join(__dirname, "../dist/bundle");
const WRITE = process.env.MOONEXEC_CODE_CACHE === "write";

/**
 * wasmoon's glue loads Node's `module` with import(), which a vm.Script cannot do without an
 * experimental option (and which starts the ESM loader for one built-in); require() gives the
 * same object. Where the text is not there, the glue loads as usual, without the cache.
 */
const GLUE_IMPORT = "await import('module')";

/** Compile `files` (absolute path → short name) with the cache; other modules load as usual. */
module.exports = function useCodeCache(files) {
  const made = [];
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    const name = files.get(filename);
    if (!name) return compile.call(this, content, filename);
    if (name === "wasmoon") content = content.replace(GLUE_IMPORT, "require('module')");
    if (/\bimport\(/.test(content)) return compile.call(this, content, filename);
    const st = fs.statSync(filename);
    const cacheFile = path.join(DIR, `${name}.${st.size}-${Math.floor(st.mtimeMs)}.v8cache`);
    let cachedData;
    if (!WRITE) {
      try {
        cachedData = fs.readFileSync(cacheFile);
      } catch {
        // no cache: compile from source
      }
    }
    const script = new vm.Script(Module.wrap(content), {
      filename,
      cachedData,
    });
    if (WRITE) made.push([cacheFile, script]);
    const fn = script.runInThisContext({ displayErrors: true });
    return fn.call(this.exports, this.exports, Module.createRequire(filename), this, filename, path.dirname(filename));
  };
  // After the run, so the functions it compiled lazily are in the cache too.
  if (WRITE) process.on("exit", () => made.forEach(([file, script]) => fs.writeFileSync(file, script.createCachedData())));
};
