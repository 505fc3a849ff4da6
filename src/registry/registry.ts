/** Maps executor ids from the config to executors; remembers the executors it handed out until they are released. */
import { ExecError, toExecError } from "../errors.js";
import type { Config } from "../config/entry.js";
import type { BackendKind } from "../backend/contract.js";
import { Executor, type ExecutorOptions } from "./executor.js";
import { compareIds, hasWildcard, idPattern } from "./id-pattern.js";

export class Registry {
  private readonly live = new Set<Executor>();

  constructor(
    readonly config: Config,
    private readonly kinds: Map<string, BackendKind>,
    private readonly options: ExecutorOptions = {},
  ) {}

  ids(): string[] {
    return [...this.config.entries.keys()];
  }

  /**
   * Configured ids matching `pattern`, sorted (numbers by value): a glob (`*`, `?`), a fleet's id
   * (its members), or one id. No pattern: every id.
   */
  list(pattern?: string): string[] {
    const ids = this.ids();
    let hits: string[];
    if (pattern === undefined) hits = ids;
    else if (hasWildcard(pattern)) {
      const re = idPattern(pattern);
      hits = ids.filter((id) => re.test(id));
    } else if (this.config.entries.has(pattern)) hits = [pattern];
    else hits = [...this.config.entries.values()].filter((e) => e.fleet === pattern).map((e) => e.id);
    return hits.sort(compareIds);
  }

  async get(id: string): Promise<Executor> {
    const entry = this.config.entries.get(id);
    if (!entry) {
      const members = this.list(id);
      if (members.length > 0 && !hasWildcard(id)) {
        throw new ExecError("NOT_FOUND", `'${id}' is a fleet, not an executor: get one of its ${members.length} members (${members[0]}, ...), or use exec.each("${id}", fn) / exec.list("${id}")`);
      }
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
    // A released executor is forgotten: a long-lived host must not keep every one it made.
    const executor = new Executor(entry, backend, this.options, (e) => this.live.delete(e));
    this.live.add(executor);
    return executor;
  }

  /** Kill the foreground commands of every executor, keeping executors and background processes. */
  async killForeground(): Promise<void> {
    await Promise.allSettled([...this.live].map((e) => e.killForeground()));
  }

  /** Release every executor handed out (host shutdown, SIGINT). */
  async releaseAll(): Promise<void> {
    const all = [...this.live];
    this.live.clear();
    await Promise.allSettled(all.map((e) => e.release()));
  }
}
