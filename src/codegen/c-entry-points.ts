// The native runtime's C functions as the C emitter sees them: for each one its name and parameters, exactly as
// src/backend/native/csrc/kiln_runtime.h declares them (a test parses the header and holds the two together). The
// emitter calls templates only through this table (cCall), so a call's name and argument count are checked by tsc.

/** A parameter: its C type and name, as in the header. */
export type CParam = readonly [type: string, name: string];

export interface CEntryPoint {
  readonly name: string;
  readonly returns: string;
  readonly params: readonly CParam[];
}

const entry = <const P extends readonly CParam[]>(name: string, returns: string, params: P) => ({ name, returns, params });

/** GEMM / GEMV / Linear: C[M,N] = A[M,K] · B (+ bias), strides in elements; B of element type `b`. */
const matmulParams = <const B extends string>(b: B, [x, w, y]: readonly [string, string, string] = ["A", "B", "C"]) =>
  [
    ["int64_t", "M"], ["int64_t", "N"], ["int64_t", "K"], ["const float*", x], ["int64_t", `ld${x.toLowerCase()}`],
    [`const ${b}*`, w], ["int64_t", `ld${w.toLowerCase()}`], ["float*", y], ["int64_t", `ld${y.toLowerCase()}`],
    ["const float*", "bias"],
  ] as const;

const attentionParams = <const C extends string>(cache: C) =>
  [
    ["int64_t", "S"], ["int64_t", "NH"], ["int64_t", "NKV"], ["int64_t", "D"], ["int64_t", "BS"], ["int64_t", "max_blocks"],
    ["const float*", "q"], [`const ${cache}*`, "kcache"], [`const ${cache}*`, "vcache"], ["const int32_t*", "block_table"],
    ["const int32_t*", "q_seq"], ["const int32_t*", "q_pos"], ["float", "scale"], ["float*", "out"],
  ] as const;

const GEMV = ["x", "W", "y"] as const;
const LINEAR = ["A", "W", "C"] as const;

/** Every function kiln_runtime.h declares. */
export const C_ENTRY_POINTS = {
  fail: entry("kiln_fail", "void", [["const char*", "message"]]),
  numThreads: entry("kiln_num_threads", "int", []),
  setNumThreads: entry("kiln_set_num_threads", "void", [["int", "n"]]),
  parallel: entry("kiln_parallel", "void", [["kiln_task_fn", "fn"], ["void*", "ctx"]]),
  parallelForChunks: entry("kiln_parallel_for_chunks", "void", [["int64_t", "n"], ["int64_t", "grain"], ["int64_t", "per_thread"], ["kiln_range_fn", "fn"], ["void*", "ctx"]]),
  parallelFor: entry("kiln_parallel_for", "void", [["int64_t", "n"], ["int64_t", "grain"], ["kiln_range_fn", "fn"], ["void*", "ctx"]]),
  parallelJobs: entry("kiln_parallel_jobs", "int64_t", []),
  profileEnabled: entry("kiln_profile_enabled", "int", []),
  setProfile: entry("kiln_set_profile", "void", [["int", "on"]]),
  profileBegin: entry("kiln_profile_begin", "int64_t", [["kiln_profile_entry*", "table"], ["int", "n"]]),
  profileLap: entry("kiln_profile_lap", "int64_t", [["kiln_profile_entry*", "e"], ["int64_t", "since"]]),
  profileEnd: entry("kiln_profile_end", "void", [["int64_t", "start"]]),
  profileTable: entry("kiln_profile_table", "const kiln_profile_entry*", [["int*", "n"], ["int64_t*", "forwards"], ["int64_t*", "forward_ns"]]),
  profileReset: entry("kiln_profile_reset", "void", []),
  arenaReserve: entry("kiln_arena_reserve", "void*", [["kiln_arena*", "a"], ["size_t", "bytes"]]),
  arenaRelease: entry("kiln_arena_release", "void", [["kiln_arena*", "a"]]),
  scratch: entry("kiln_scratch", "void*", [["size_t", "bytes"]]),
  threadScratch: entry("kiln_thread_scratch", "void*", [["size_t", "bytes"]]),
  takeError: entry("kiln_take_error", "const char*", []),
  runtimeAttach: entry("kiln_runtime_attach", "void", []),
  runtimeDetach: entry("kiln_runtime_detach", "void", []),
  gemmNtF32: entry("kiln_gemm_nt_f32", "void", matmulParams("float")),
  gemmNtBf16: entry("kiln_gemm_nt_bf16", "void", matmulParams("uint16_t")),
  gemmNtBf16Dot: entry("kiln_gemm_nt_bf16dot", "void", matmulParams("uint16_t")),
  gemmNnF32: entry("kiln_gemm_nn_f32", "void", matmulParams("float")),
  gemmNnBf16: entry("kiln_gemm_nn_bf16", "void", matmulParams("uint16_t")),
  gemvNtF32: entry("kiln_gemv_nt_f32", "void", matmulParams("float", GEMV)),
  gemvNtBf16: entry("kiln_gemv_nt_bf16", "void", matmulParams("uint16_t", GEMV)),
  linearF32: entry("kiln_linear_f32", "void", matmulParams("float", LINEAR)),
  linearBf16: entry("kiln_linear_bf16", "void", matmulParams("uint16_t", LINEAR)),
  pagedAttentionF32: entry("kiln_paged_attention_f32", "void", attentionParams("float")),
  pagedAttentionBf16: entry("kiln_paged_attention_bf16kv", "void", attentionParams("uint16_t")),
} as const satisfies Record<string, CEntryPoint>;

/** One C expression per parameter (a tuple of the parameters' length). */
type ArgsOf<P extends readonly CParam[]> = { readonly [I in keyof P]: string };

/** The argument list of an entry point. */
export type CArgs<E extends CEntryPoint> = ArgsOf<E["params"]>;

/** A call of an entry point, e.g. `kiln_linear_f32(M, N, …)`. */
export function cCall<E extends CEntryPoint>(e: E, args: CArgs<E>): string {
  return `${e.name}(${(args as readonly string[]).join(", ")})`;
}
