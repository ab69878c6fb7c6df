// GEMM/GEMV templates, compiled for every instruction set this host can run, equal a float64 reference at odd sizes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type NativeTarget, detectCpuFeatures, targetIsa } from "../../src/backend/native/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { bf16ToF32, f32ToBf16 } from "../../src/tensor/index.js";
import { KERNELS, type KernelName, isBf16, isNN, kernelSymbols, targetModules, testedTargets } from "./kernel-entry.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

const host = detectCpuFeatures();
const tested = testedTargets();
const modules = await targetModules(tested);

/** [M, N, K]: 1, 3, 17, 129, 1000 mixed, plus a K past the 1024-element K block, an M-split shape and K = 0. */
const SIZES: readonly [number, number, number][] = [
  [1, 1, 1], [3, 17, 129], [17, 3, 1000], [129, 129, 17], [1, 1000, 129], [4, 129, 1000], [3, 1000, 3],
  [129, 17, 1000], [2, 3, 1000], [5, 1, 17], [300, 5, 100], [7, 33, 2100], [2, 5, 0],
];

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

const roundBf16 = (x: number) => bf16ToF32(f32ToBf16(x));

function checkKernel(target: NativeTarget, kernel: KernelName): void {
  const mod = modules.get(target)!;
  SIZES.forEach(([M, N, K], c) => {
    const padded = c % 2 === 0;
    const nn = isNN(kernel);
    const lda = K + (padded ? 3 : 0);
    const ldb = (nn ? N : K) + (padded ? 5 : 0);
    const ldc = N + (padded ? 2 : 0);
    const bias = c % 3 !== 1;
    const A = random(M * lda, 11 + c);
    const Bf = random((nn ? K : N) * ldb, 23 + c);
    const Bw = isBf16(kernel) ? Uint16Array.from(Bf, f32ToBf16) : Bf;
    const Bv = isBf16(kernel) ? Float32Array.from(Bw as Uint16Array, bf16ToF32) : Bf;
    const biasV = random(Math.max(N, 1), 37 + c);
    const C = new Float32Array(M * ldc).fill(7777);
    mod.run([A, Bw, C, biasV], kernelSymbols(kernel, M, N, K, { bias, lda, ldb, ldc }));
    const aOf = kernel === "gemm_nt_bf16dot" ? roundBf16 : (x: number) => x;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let ref = bias ? biasV[j]! : 0;
        let mag = Math.abs(ref);
        for (let k = 0; k < K; k++) {
          const p = aOf(A[i * lda + k]!) * Bv[nn ? k * ldb + j : j * ldb + k]!;
          ref += p;
          mag += Math.abs(p);
        }
        const got = C[i * ldc + j]!;
        if (!(Math.abs(got - ref) <= 1e-5 * mag + 1e-30)) {
          assert.fail(`${target} ${kernel} M=${M} N=${N} K=${K} C[${i},${j}] = ${got}, expected ${ref} (magnitude ${mag})`);
        }
      }
      for (let j = N; j < ldc; j++) assert.equal(C[i * ldc + j], 7777, `${kernel} wrote past N in row ${i}`);
    }
  });
}

for (const target of tested) {
  test(`${target} object reports the ${targetIsa(target, host)} code path`, { skip }, () => {
    const mod = modules.get(target)!;
    assert.equal(mod.isa, targetIsa(target, host));
    assert.equal(mod.bf16dot, target === "avx512-bf16");
  });
  for (const kernel of KERNELS) {
    test(`${target}: ${kernel} equals the float64 reference at odd sizes and strides`, { skip }, () => checkKernel(target, kernel));
  }
}

test("the threaded and the single-threaded GEMM agree bit for bit", { skip }, () => {
  const mod = modules.get(tested[0]!)!;
  const [M, N, K] = [64, 200, 300];
  const A = random(M * K, 1);
  const B = random(N * K, 2);
  const run = (threads: number) => {
    const C = new Float32Array(M * N);
    mod.threads = threads;
    mod.run([A, B, C, C], kernelSymbols("gemm_nt_f32", M, N, K));
    return C;
  };
  const before = mod.threads;
  try {
    const one = run(1);
    const two = run(2);
    assert.equal(mod.threads, 2);
    assert.deepEqual(two, one);
  } finally {
    mod.threads = before;
  }
});
