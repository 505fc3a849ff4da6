// The baseline of bench/cpu.js: a Lua file run by the wasmoon package directly, with the
// V8 flags moonexec uses (bin/v8-flags.cjs), as a user of plain wasmoon would run it.
require("node:v8").setFlagsFromString(require("../bin/v8-flags.cjs"));
const { readFileSync } = require("node:fs");
const { LuaFactory } = require("wasmoon");

(async () => {
  const engine = await new LuaFactory().createEngine();
  try {
    await engine.doString(readFileSync(process.argv[2], "utf8"));
  } finally {
    engine.global.close();
  }
})();
