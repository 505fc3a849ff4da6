#!/usr/bin/env node
// CommonJS (bin/package.json): an ES module entry would start Node's ESM loader for nothing.
require("node:v8").setFlagsFromString(require("./v8-flags.cjs"));
require("../dist/bundle/moonexec.cjs");
