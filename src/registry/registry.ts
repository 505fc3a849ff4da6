/** Maps executor ids from the config to executors; remembers every executor it handed out. */
import { ExecError, toExecError } from "../errors.js";
import type { Config } from "../config/entry.js";
import type { BackendKind } from "../backend/contract.js";
import { Executor } from "./executor.js";

export class Registry {
  private readonly live = new Set<Executor>();

  constructor(
    readonly config: Config,
    private readonly kinds: Map<string, BackendKind>,
    private readonly bufferBytes?: number,
  ) {}

  ids(): string[] {
    return [...this.config.entries.keys()];
  }

  async get(id: string): Promise<Executor> {
    const entry = this.config.entries.get(id);
    if (!entry) {
      const known = this.ids().join(", ") || "none";
      throw new ExecError("NOT_FOUND", `no executor '${id}' (configured: ${known})`);
    }
    const kind = this.kinds.get(entry.kind)!;
    let backend;
    try {
      backend = await kind.open(entry);
    } catch (e) {
      throw toExecError(e, "UNAVAILABLE");
    }
    const executor = new Executor(entry, backend, this.bufferBytes);
    this.live.add(executor);
    return executor;
  }

  /** Release every executor handed out (host shutdown, SIGINT). */
  async releaseAll(): Promise<void> {
    const all = [...this.live];
    this.live.clear();
    await Promise.allSettled(all.map((e) => e.release()));
  }
}
