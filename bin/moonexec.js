#!/usr/bin/env node
// Lua runs in wasm; V8's optimizing tier would compile it again in background threads, and a
// short script would then wait ~100 ms at exit for that work. The baseline tier is enough here.
import { setFlagsFromString } from "node:v8";
setFlagsFromString("--liftoff-only");
await import("../dist/cli/main.js");
