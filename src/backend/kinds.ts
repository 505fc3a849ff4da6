/** The built-in executor kinds; an application adds its own with HostOptions.kinds. */
import type { BackendKind } from "./contract.js";
import { nativeKind } from "./native/kind.js";
import { dockerKind } from "./docker/kind.js";
import { incusKind } from "./incus/kind.js";
import { sshKind } from "./ssh/kind.js";

export function builtinKinds(): Map<string, BackendKind> {
  const kinds: BackendKind<any>[] = [nativeKind, dockerKind, incusKind, sshKind];
  return new Map(kinds.map((k) => [k.kind, k]));
}
