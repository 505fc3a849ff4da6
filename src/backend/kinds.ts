/** Every executor kind the host knows. New backends register here. */
import type { BackendKind } from "./contract.js";
import { nativeKind } from "./native/kind.js";

export function builtinKinds(): Map<string, BackendKind> {
  const kinds: BackendKind<any>[] = [nativeKind];
  return new Map(kinds.map((k) => [k.kind, k]));
}
