// Process-wide counters of expensive work (traces, pass pipelines, codegen, C compiles), so
// tests can prove that a warm start did none of it.
export type CounterName =
  | "traces" | "pipelines" | "codegens" | "compilerInvocations" | "bundlesLoaded" | "bundlesSaved"
  /** Stored objects refused before use: damaged, unsigned, or failing to load (each is deleted and rebuilt). */
  | "objectsRejected"
  /** Verified object bytes written to a fresh private file and dlopened. */
  | "objectsExtracted"
  /** Calls into compiled functions (AOT), walks of a module tree, parses of the KILN_* environment: the per-token path
   * must show calls and nothing else. */
  | "compiledCalls" | "moduleWalks" | "envReads"
  /** Compiled calls served by a program specialised for their token count (compile sizes). */
  | "specialisedCalls"
  /** Milliseconds spent inside native calls (so host time = wall time minus this). */
  | "nativeMs"
  /** Fleet cache: bundles loaded from a remote store, refused after download (digest or guards), published. */
  | "remoteLoads" | "remoteRejected" | "remotePublished";

const counts: Record<CounterName, number> = {
  traces: 0, pipelines: 0, codegens: 0, compilerInvocations: 0, bundlesLoaded: 0, bundlesSaved: 0, objectsRejected: 0, objectsExtracted: 0,
  compiledCalls: 0, moduleWalks: 0, envReads: 0, specialisedCalls: 0, nativeMs: 0, remoteLoads: 0, remoteRejected: 0,
  remotePublished: 0,
};

export function bump(name: CounterName, by = 1): void {
  counts[name] += by;
}

export function counters(): Readonly<Record<CounterName, number>> {
  return { ...counts };
}
