/** The common fields of one config entry after validation; its kind's own fields sit beside them (BackendKind.fields). */
export interface EntryBase {
  /** "namespace:name" */
  id: string;
  name: string;
  kind: string;
  default_work_dir?: string;
  default_env: Record<string, string>;
  command_whitelist?: string[];
  /** Where the entry came from, for messages: "moonexec.yaml: entry 'app:shell'". */
  where: string;
  /** For a fleet member, the fleet's id ("ns:web" for the entry named web with `hosts:`). */
  fleet?: string;
}

export type Entry = EntryBase & Record<string, unknown>;

export interface Config {
  /** Files the config was read from (empty for the built-in default). */
  files: string[];
  entries: Map<string, Entry>;
}
