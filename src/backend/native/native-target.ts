// Native targets: which instruction set the kernels are compiled for, its compiler flags and the CPU features it needs.
//
// The kernels pick their code path at compile time from the compiler's macros (__AVX512F__, __AVX2__, ...), so a
// target is just a set of -march flags. The named targets are the x86-64 micro-architecture levels (plus bf16), so an
// object runs on any CPU with those features; "native" is whatever the build machine has (-march=native).
/** The kernel code paths a compiled object can take, as its `isa()` export reports. */
export type NativeIsa = "avx512" | "avx2" | "portable";

export type NativeTarget = "native" | "avx512-bf16" | "avx512" | "avx2" | "portable";

const X86_V2 = ["cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"];
// x86-64-v3 also has LZCNT ("abm"), which some hypervisors hide (an AMD EPYC VM reports avx512 but no abm): the
// named targets are built with -mno-lzcnt instead, so their objects never need it and such a host is not "portable".
const X86_V3 = [...X86_V2, "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "movbe", "xsave"];
const X86_V4 = [...X86_V3, "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"];

/** /proc/cpuinfo features each named target requires of the CPU that loads its objects. */
export const TARGET_FEATURES: Readonly<Record<Exclude<NativeTarget, "native">, readonly string[]>> = {
  "avx512-bf16": [...X86_V4, "avx512_bf16"],
  avx512: X86_V4,
  avx2: X86_V3,
  portable: [],
};

/** The best named target the given features support (always "portable" off x86-64). */
export function bestNativeTarget(features: ReadonlySet<string>, arch: string = process.arch): Exclude<NativeTarget, "native"> {
  if (arch !== "x64") return "portable";
  const has = (t: Exclude<NativeTarget, "native">) => TARGET_FEATURES[t].every((f) => features.has(f));
  return has("avx512-bf16") ? "avx512-bf16" : has("avx512") ? "avx512" : has("avx2") ? "avx2" : "portable";
}

/** The -march style flags of a target. */
export function targetFlags(target: NativeTarget, arch: string = process.arch): string[] {
  const x64 = arch === "x64";
  switch (target) {
    case "native":
      return [x64 ? "-march=native" : "-mcpu=native"];
    case "avx512-bf16":
      return ["-march=x86-64-v4", "-mavx512bf16", "-mno-lzcnt"];
    case "avx512":
      return ["-march=x86-64-v4", "-mno-lzcnt"];
    case "avx2":
      return ["-march=x86-64-v3", "-mno-lzcnt"];
    case "portable":
      return x64 ? ["-march=x86-64"] : [];
    default:
      return target satisfies never;
  }
}

/** Feature-name prefixes that matter to generated code (for "native", whose needs are the host's own). */
const ISA_FEATURE = /^(avx|sse|ssse|fma|f16c|bmi|abm|movbe|popcnt|lahf|cx16|xsave$|amx|vaes|gfni|vpclmulqdq|aes|sha_ni|adx|asimd|sve|fp16|bf16|i8mm|dotprod)/;

/** The CPU features an object built for `target` needs where it is loaded (a cache guard). */
export function targetRequiredFeatures(target: NativeTarget, host: ReadonlySet<string>): string[] {
  if (target !== "native") return [...TARGET_FEATURES[target]].sort();
  return [...host].filter((f) => ISA_FEATURE.test(f)).sort();
}

/** The kernel code path a target selects (what the compiled object's `isa()` reports). */
export function targetIsa(target: NativeTarget, host: ReadonlySet<string>, arch: string = process.arch): NativeIsa {
  const t = target === "native" ? bestNativeTarget(host, arch) : target;
  return t === "avx512-bf16" || t === "avx512" ? "avx512" : t;
}
