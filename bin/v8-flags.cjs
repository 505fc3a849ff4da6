// V8 flags for moonexec (bin/moonexec.js) and the plain-wasmoon baseline of bench/cpu.js.
// MOONEXEC_V8_FLAGS replaces them (bench/cpu.js uses it to compare choices).
// Lua runs in wasm. Liftoff (the baseline compiler) starts at once; TurboFan compiles hot
// functions on background threads that a process waits for at exit. The tiering budget is
// high enough that a short script never queues such work, low enough that a CPU-bound one
// soon runs optimized code (the measurements: docs/performance-cpu.md).
module.exports = process.env.MOONEXEC_V8_FLAGS ?? "--wasm-tiering-budget=50000000";
