/**
 * Keep glibc from handing back, and then faulting in again, the memory that stream reads
 * churn through.
 *
 * Every socket or pipe read allocates a fresh 64 KiB buffer (Node does, per read), and a
 * garbage collection frees hundreds of them at once. With glibc's default thresholds, a
 * free that leaves more than 128 KiB unused at the top of the heap shrinks the heap
 * (brk), and the next reads grow it again, page by page: measured on a 256 MiB Incus
 * read, 17–27 thousand page faults per read and 0.52–0.68× the CLI's rate, against about
 * 2 thousand and 0.94–1.01× once the heap stopped shrinking.
 *
 * glibc adapts its thresholds by itself: freeing a block it had mmap'd (one at least
 * M_MMAP_THRESHOLD, up to 32 MiB) raises the mmap threshold to that block's size and the
 * trim threshold to twice that. One such allocation, never written and dropped at once,
 * makes that happen (it is unmapped at the next GC) — the same as setting
 * MALLOC_TRIM_THRESHOLD_, which a library cannot do for the process it lives in.
 * Elsewhere (musl, or a V8 with its own array-buffer heap) it is a short-lived buffer.
 *
 * Done on the first bulk output (OutputStream), not at start-up: raised before, the memory
 * that start-up frees (module loading, wasm compilation) stayed too — 15–20 MB more idle
 * RSS, which every later fork copies the page tables of.
 */
const BLOCK = 31 * 1024 * 1024; // just under glibc's 32 MiB ceiling for the adjustment

let done = false;

/** Once per process: allocate and drop one large block (see above). */
export function raiseMallocThresholds(): void {
  if (done) return;
  done = true;
  Buffer.allocUnsafeSlow(BLOCK);
}
