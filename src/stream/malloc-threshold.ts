/**
 * Keep glibc from handing back, and then faulting in again, the memory that stream reads
 * churn through (a fresh buffer per read, freed hundreds at a time by each collection).
 *
 * Freeing a block glibc had mmap'd (up to 32 MiB) raises its mmap threshold to that size and
 * its trim threshold to twice that: one such allocation, never written and dropped at once,
 * does what MALLOC_TRIM_THRESHOLD_ would, which a library cannot set for its process.
 * Elsewhere (musl, or a V8 with its own array-buffer heap) it is a short-lived buffer.
 * Done by a Host on the first bulk output its commands send, not at start-up, so what start-up frees
 * still goes back. Measurements: docs/performance.md.
 */
import { MALLOC_RAISE_BLOCK } from "../constants.js";

let done = false;

/** Once per process: allocate and drop one large block (see above). */
export function raiseMallocThresholds(): void {
  if (done) return;
  done = true;
  Buffer.allocUnsafeSlow(MALLOC_RAISE_BLOCK);
}
