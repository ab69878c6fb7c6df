// A native entry that runs one GEMM/GEMV template chosen by a symbol, for the kernel tests and bench/native.ts. The
// object also carries the paged-attention entry (attention-entry.ts), so every kernel test shares one build per target.
import {
  NativeBuilder, type NativeModule, type NativeObject, type NativeTarget, TARGET_FEATURES, assembleNativeSource, detectCpuFeatures,
  loadNativeModule, runtimeInputsAsync,
} from "../../src/backend/native/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { C_ENTRY_POINTS, cCall } from "../../src/codegen/index.js";
import { ATTENTION_ENTRY, ATTENTION_ENTRY_C } from "./attention-entry.js";

/** The templates the entry can run (the index in KERNELS is passed in syms[0]), with their entry points. */
const KERNEL_ENTRIES = {
  gemm_nt_f32: C_ENTRY_POINTS.gemmNtF32, gemm_nt_bf16: C_ENTRY_POINTS.gemmNtBf16, gemm_nt_bf16dot: C_ENTRY_POINTS.gemmNtBf16Dot,
  gemm_nn_f32: C_ENTRY_POINTS.gemmNnF32, gemm_nn_bf16: C_ENTRY_POINTS.gemmNnBf16, gemv_nt_f32: C_ENTRY_POINTS.gemvNtF32,
  gemv_nt_bf16: C_ENTRY_POINTS.gemvNtBf16, linear_f32: C_ENTRY_POINTS.linearF32, linear_bf16: C_ENTRY_POINTS.linearBf16,
} as const;
export type KernelName = keyof typeof KERNEL_ENTRIES;
export const KERNELS = Object.keys(KERNEL_ENTRIES) as readonly KernelName[];

/** B is bf16 words (else f32); B is [K,N] (else [N,K]). */
export const isBf16 = (k: KernelName): boolean => k.includes("bf16");
export const isNN = (k: KernelName): boolean => k.startsWith("gemm_nn");

const call = (k: KernelName) =>
  cCall(KERNEL_ENTRIES[k], ["M", "N", "K", "A", "lda", `(const ${isBf16(k) ? "uint16_t" : "float"}*)bufs[1]`, "ldb", "C", "ldc", "bias"]);

/** bufs: A f32, B, C f32, bias f32; syms: kernel, M, N, K, has_bias, lda, ldb, ldc. */
const ENTRY_C = `
static void kiln_kernel_entry(void** bufs, const int64_t* syms) {
  int64_t M = syms[1], N = syms[2], K = syms[3], lda = syms[5], ldb = syms[6], ldc = syms[7];
  const float* A = (const float*)bufs[0];
  float* C = (float*)bufs[2];
  const float* bias = syms[4] ? (const float*)bufs[3] : NULL;
  switch (syms[0]) {
${KERNELS.map((k, i) => `    case ${i}: ${call(k)}; break;`).join("\n")}
    default: kiln_fail("kiln_kernel_entry: unknown kernel");
  }
}
`;

/** The whole object's source; `extra` adds more C (and `entries` more entries), e.g. the bench's probes (which use simd.h). */
export function kernelEntrySource(extra = "", entries: readonly { name: string; symbol: string }[] = []): string {
  return assembleNativeSource({
    code: '#include "simd.h"\n' + ENTRY_C + ATTENTION_ENTRY_C + extra,
    entries: [{ name: "run", symbol: "kiln_kernel_entry", buffers: 4, symbols: 8 }, ATTENTION_ENTRY, ...entries],
  });
}

/** The symbol values for one call (no strides given: dense). */
export function kernelSymbols(kernel: KernelName, M: number, N: number, K: number, o: { bias?: boolean; lda?: number; ldb?: number; ldc?: number } = {}): BigInt64Array {
  const ldb = o.ldb ?? (isNN(kernel) ? N : K);
  return BigInt64Array.from([KERNELS.indexOf(kernel), M, N, K, o.bias ? 1 : 0, o.lda ?? K, ldb, o.ldc ?? N].map(BigInt));
}

/**
 * Every named target the host can execute: the AVX-512, AVX2 and portable code paths all run here on x86-64.
 * avx512 without bf16 differs from avx512-bf16 only in kiln_gemm_nt_bf16dot's fallback: left out when both run.
 */
export function testedTargets(): NativeTarget[] {
  const host = detectCpuFeatures();
  const targets = (["avx512-bf16", "avx512", "avx2", "portable"] as const).filter((t) => TARGET_FEATURES[t].every((f) => host.has(f)));
  return targets.includes("avx512-bf16") ? targets.filter((t) => t !== "avx512") : [...targets];
}

/** An object built by `builder`, linked with the native runtime (compiled by the same builder on first use). */
export async function buildWithRuntime(builder: NativeBuilder, source: string): Promise<NativeObject> {
  return builder.build(source, await runtimeInputsAsync(builder));
}

/** The test object (kernels and attention entries) built once per tested target; empty without a toolchain. */
export async function targetModules(tested: readonly NativeTarget[]): Promise<Map<NativeTarget, NativeModule>> {
  if (!hasToolchain()) return new Map();
  return new Map(
    await Promise.all(tested.map(async (target) => [target, loadNativeModule((await buildWithRuntime(new NativeBuilder({ target }), kernelEntrySource())))] as const)),
  );
}
