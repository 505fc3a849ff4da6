#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader for nothing.
require("node:v8").setFlagsFromString(require("./v8-flags.cjs"));
const bundle = require("node:path").join(__dirname, "../dist/bundle/moonexec.cjs");
require("./code-cache.cjs")(new Map([
  [bundle, "moonexec"],
  [require.resolve("wasmoon", { paths: [bundle] }), "wasmoon"],
]));
require(bundle);
