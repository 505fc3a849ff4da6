#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader for nothing.
// Lua runs in wasm; V8's optimizing tier would compile it again in background threads, and a
// short script would then wait at exit for that work. The baseline tier is enough here.
require("node:v8").setFlagsFromString("--liftoff-only");
require("../dist/bundle/moonexec.cjs");
