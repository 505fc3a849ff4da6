/**
 * What an output stream reads a command's output from: a Node Readable, or a reader that
 * reuses its buffers (src/backend/native/recycling-reader.ts).
 */
export interface ByteSource {
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  once(event: "end" | "close", listener: () => void): unknown;
  once(event: "error", listener: (e: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  /**
   * Only on a source that reuses its buffers: whoever reads it is done with the next `bytes`
   * of what it emitted (in order), and that memory may be read into again. Until then its
   * chunks stay valid; a reader that keeps one beyond that must copy it.
   */
  consumed?(bytes: number): void;
  /**
   * Set (before the source ends) when its end is not the end of the command's output: the
   * connection to the daemon broke, the container or instance went away. The reader then
   * gets this error after the bytes that did arrive, instead of an EOF.
   */
  readonly failure?: Error | undefined;
}
