// The helpers JS kernels call (`rt` in the emitted source): each is the one definition from
// src/tensor or src/ops, so compiled code and the reference interpreter agree by construction.
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../tensor/index.js";
import { BINARY_FNS, UNARY_FNS, erf, geluScalar } from "../ops/index.js";
import type { JS_RUNTIME_HELPERS } from "../codegen/index.js";
import { pagedAttention } from "./js-attention.js";

type Helper = (typeof JS_RUNTIME_HELPERS)[number];

export const JS_RUNTIME: Readonly<Record<Exclude<Helper, "pagedAttention">, (...xs: number[]) => number> & { pagedAttention: typeof pagedAttention }> = {
  bf2f: bf16ToF32,
  f2bf: f32ToBf16,
  h2f: f16ToF32,
  f2h: f32ToF16,
  bfr: (x) => bf16ToF32(f32ToBf16(x)),
  hr: (x) => f16ToF32(f32ToF16(x)),
  erf,
  gelu: (x) => geluScalar(x, "none"),
  geluTanh: (x) => geluScalar(x, "tanh"),
  fmax: BINARY_FNS.maximum,
  fmin: BINARY_FNS.minimum,
  sigmoid: UNARY_FNS.sigmoid,
  silu: UNARY_FNS.silu,
  ix: (v, n) => (v < 0 ? v + n : v),
  pagedAttention,
};
