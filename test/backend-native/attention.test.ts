// Paged causal attention (kiln_paged_attention_f32 / _bf16kv), compiled for every instruction set this host can run,
// equals a float64 reference: decode, prefill, chunked prefill and mixed batches over shuffled block tables, at odd
// head sizes, GQA ratios and block sizes, on 1 and 2 threads (2 threads split long decode contexts and merge).
//
// Tolerance: |out - ref| <= (1e-5 + 1e-6 · Λ) · Σ_j w_j |v_j|, where w are the f64 softmax weights (the error bound
// of a weighted mean computed in f32) and Λ = scale · max_j Σ_d |q_d k_jd| (a logit's magnitude: f32 dot products
// err by a few ulps of it, which the softmax turns into relative weight errors). The bf16 cache is checked the same
// way against a reference built from the rounded cache, and against the f32 cache's reference within 2e-2 · Σ w |v|.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { bf16ToF32, f32ToBf16 } from "../../src/tensor/index.js";
import { type AttentionCall, attentionArgs } from "./attention-entry.js";
import type { NativeTarget } from "../../src/backend/native/index.js";
import { targetModules, testedTargets } from "./kernel-entry.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

const tested = testedTargets();
const modules = await targetModules(tested);

/** Deterministic values in [-1, 1). */
function random(n: number, seed: number, amp = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * amp;
  }
  return out;
}

/** A Fisher–Yates shuffle of 0..n-1. */
function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

interface Case {
  readonly name: string;
  readonly NH: number;
  readonly NKV: number;
  readonly D: number;
  readonly BS: number;
  /** Context length of each sequence (its cache holds positions 0..len-1). */
  readonly lens: readonly number[];
  /** Query tokens as [sequence, position]. */
  readonly queries: readonly (readonly [number, number])[];
  /** Multiplies q (peaky softmax when large). */
  readonly qAmp?: number;
}

/**
 * The cache: blocks of all sequences shuffled over a pool with spare blocks; every slot no sequence owns (spare
 * blocks, the tail of each last block) holds NaN, and table entries past a sequence's blocks point far outside the
 * cache, so any read outside a query's context shows up as NaN or a crash.
 */
function makeCall(c: Case, seed: number): AttentionCall {
  const { NH, NKV, D, BS } = c;
  const blocksOf = c.lens.map((l) => Math.ceil(l / BS));
  const maxBlocks = Math.max(...blocksOf) + 2;
  const used = blocksOf.reduce((a, b) => a + b, 0);
  const numBlocks = used + 3;
  const order = permutation(numBlocks, seed);
  const blockTable = new Int32Array(c.lens.length * maxBlocks).fill(1 << 30);
  const kcache = new Float32Array(numBlocks * BS * NKV * D).fill(NaN);
  const vcache = new Float32Array(numBlocks * BS * NKV * D).fill(NaN);
  const kvals = random(kcache.length, seed + 1);
  const vvals = random(vcache.length, seed + 2);
  let next = 0;
  c.lens.forEach((len, s) => {
    for (let b = 0; b < blocksOf[s]!; b++) blockTable[s * maxBlocks + b] = order[next++]!;
    for (let j = 0; j < len; j++) {
      const slot = blockTable[s * maxBlocks + Math.floor(j / BS)]! * BS + (j % BS);
      for (let x = slot * NKV * D; x < (slot + 1) * NKV * D; x++) {
        kcache[x] = kvals[x]!;
        vcache[x] = vvals[x]!;
      }
    }
  });
  const S = c.queries.length;
  return {
    S, NH, NKV, D, BS, maxBlocks, kcache, vcache, blockTable,
    q: random(S * NH * D, seed + 3, c.qAmp ?? 1),
    qSeq: Int32Array.from(c.queries, ([s]) => s),
    qPos: Int32Array.from(c.queries, ([, p]) => p),
    scale: 1 / Math.sqrt(D),
  };
}

const toBf16 = (x: Float32Array) => Uint16Array.from(x, f32ToBf16);
const widen = (x: Float32Array | Uint16Array) => (x instanceof Uint16Array ? Float32Array.from(x, bf16ToF32) : x);

/** The f64 reference of every output row: values, Σ w|v| per element and the logit magnitude Λ per row. */
function reference(c: AttentionCall): { out: Float64Array; mag: Float64Array; logit: Float64Array } {
  const { S, NH, NKV, D, BS, maxBlocks } = c;
  const k = widen(c.kcache), v = widen(c.vcache);
  const G = NH / NKV;
  const out = new Float64Array(S * NH * D), mag = new Float64Array(S * NH * D), logit = new Float64Array(S * NH);
  for (let i = 0; i < S; i++) {
    const seq = c.qSeq[i]!, L = c.qPos[i]! + 1;
    const slots = Array.from({ length: L }, (_, j) => c.blockTable[seq * maxBlocks + Math.floor(j / BS)]! * BS + (j % BS));
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / G), qo = (i * NH + h) * D;
      const s = new Float64Array(L);
      let max = -Infinity, lam = 0;
      for (let j = 0; j < L; j++) {
        const ko = (slots[j]! * NKV + kvh) * D;
        let dot = 0, abs = 0;
        for (let d = 0; d < D; d++) {
          dot += c.q[qo + d]! * k[ko + d]!;
          abs += Math.abs(c.q[qo + d]! * k[ko + d]!);
        }
        s[j] = dot * c.scale;
        max = Math.max(max, s[j]!);
        lam = Math.max(lam, abs * c.scale);
      }
      logit[i * NH + h] = lam;
      let sum = 0;
      for (let j = 0; j < L; j++) sum += (s[j] = Math.exp(s[j]! - max));
      for (let j = 0; j < L; j++) {
        const w = s[j]! / sum, vo = (slots[j]! * NKV + kvh) * D;
        for (let d = 0; d < D; d++) {
          out[qo + d] += w * v[vo + d]!;
          mag[qo + d] += w * Math.abs(v[vo + d]!);
        }
      }
    }
  }
  return { out, mag, logit };
}

function runAttention(target: NativeTarget, c: AttentionCall, threads: number): Float32Array {
  const mod = modules.get(target)!;
  const out = new Float32Array(c.S * c.NH * c.D).fill(7777);
  const before = mod.threads;
  mod.threads = threads;
  try {
    mod.call("attention", ...attentionArgs(c, out));
  } finally {
    mod.threads = before;
  }
  return out;
}

function check(label: string, got: Float32Array, ref: ReturnType<typeof reference>, D: number, rtol: number, perLogit: number): void {
  for (let x = 0; x < got.length; x++) {
    const tol = (rtol + perLogit * ref.logit[Math.floor(x / D)]!) * ref.mag[x]!;
    const err = Math.abs(got[x]! - ref.out[x]!);
    if (!(err <= tol)) assert.fail(`${label}: out[${x}] (row ${Math.floor(x / D)}, d ${x % D}) = ${got[x]}, expected ${ref.out[x]} (tolerance ${tol})`);
  }
}

const HEADS = [[1, 1], [4, 2], [16, 8]] as const;
const decode = (L: number): Pick<Case, "lens" | "queries"> => ({ lens: [L], queries: [[0, L - 1]] });
const prefill = (S: number, L = S): Pick<Case, "lens" | "queries"> => ({ lens: [L], queries: Array.from({ length: S }, (_, i) => [0, L - S + i] as const) });

/** Decode at contexts 1, 129, 1000 and prefill of 1, 3 and 17 tokens (from empty and after 129 / 1000 cached
    positions) over D × heads × BS, then shapes off the grid: odd D, G = 3, more heads per group than rows per item. */
const CASES: Case[] = [];
for (const D of [16, 64, 128]) {
  for (const [NH, NKV] of HEADS) {
    for (const BS of [1, 16]) {
      const base = { NH, NKV, D, BS };
      const tag = `D${D} ${NH}/${NKV} BS${BS}`;
      for (const L of [1, 129, 1000]) CASES.push({ name: `decode L=${L} ${tag}`, ...base, ...decode(L) });
      CASES.push({ name: `prefill S=3 ${tag}`, ...base, ...prefill(3) });
      CASES.push({ name: `prefill S=17 ${tag}`, ...base, ...prefill(17) });
      CASES.push({ name: `prefill S=17 after 112 cached ${tag}`, ...base, ...prefill(17, 129) });
    }
    CASES.push({ name: `prefill S=3 after 997 cached D${D} ${NH}/${NKV} BS16`, NH, NKV, D, BS: 16, ...prefill(3, 1000) });
  }
}
CASES.push(
  {
    name: "mixed batch: 4 sequences (decode at 999, 3-token chunk at 126..128, decode at 0, prefill 0..16)",
    NH: 4, NKV: 2, D: 64, BS: 16, lens: [1000, 129, 1, 17],
    queries: [[0, 999], [1, 126], [1, 127], [1, 128], [2, 0], ...Array.from({ length: 17 }, (_, i) => [3, i] as const)],
  },
  {
    name: "mixed batch, sequences interleaved token by token, BS 1",
    NH: 16, NKV: 8, D: 128, BS: 1, lens: [129, 1000, 17],
    queries: [[0, 128], [1, 998], [0, 127], [1, 999], [2, 16], [2, 5], [0, 0]],
  },
  { name: "odd D 18, G = 3 (5 tokens × 3 heads per item), BS 7", NH: 6, NKV: 2, D: 18, BS: 7, ...prefill(17, 40) },
  { name: "odd D 40 decode 1000, BS 5", NH: 4, NKV: 1, D: 40, BS: 5, ...decode(1000) },
  { name: "D 256, 32 heads on one KV head (two row groups), prefill 17 after 112", NH: 32, NKV: 1, D: 256, BS: 16, ...prefill(17, 129) },
  { name: "D 256 decode 1000, 16/8, BS 16", NH: 16, NKV: 8, D: 256, BS: 16, ...decode(1000) },
  { name: "one KV head decode 4000 (split into many chunks)", NH: 8, NKV: 1, D: 128, BS: 16, ...decode(4000) },
  { name: "peaky softmax (logits ~ ±40)", NH: 4, NKV: 2, D: 64, BS: 16, qAmp: 40, ...prefill(17, 1000) },
  { name: "huge logits (~ ±1000, exp overflows without the running max)", NH: 4, NKV: 2, D: 64, BS: 16, qAmp: 1000, ...decode(1000) },
);

/** Each case's call and references, built once for all targets. */
const prepared = new Map<number, { f32: AttentionCall; bf16: AttentionCall; ref: ReturnType<typeof reference>; refBf16: ReturnType<typeof reference> }>();
function prepare(n: number) {
  let p = prepared.get(n);
  if (!p) {
    const f32 = makeCall(CASES[n]!, 100 + n);
    const bf16 = { ...f32, kcache: toBf16(f32.kcache as Float32Array), vcache: toBf16(f32.vcache as Float32Array) };
    p = { f32, bf16, ref: reference(f32), refBf16: reference(bf16) };
    prepared.set(n, p);
  }
  return p;
}

for (const target of tested) {
  test(`${target}: kiln_paged_attention_f32 equals the float64 reference (${CASES.length} cases, 1 and 2 threads)`, { skip }, () => {
    CASES.forEach((c, n) => {
      const { f32, ref } = prepare(n);
      for (const threads of [1, 2]) check(`${target} ${c.name} (${threads} threads)`, runAttention(target, f32, threads), ref, c.D, 1e-5, 1e-6);
    });
  });

  test(`${target}: kiln_paged_attention_bf16kv equals the reference on the rounded cache, and the f32 one within bf16 rounding`, { skip }, () => {
    CASES.forEach((c, n) => {
      const { bf16, ref, refBf16 } = prepare(n);
      for (const threads of [1, 2]) {
        const got = runAttention(target, bf16, threads);
        check(`${target} bf16 ${c.name} (${threads} threads)`, got, refBf16, c.D, 1e-5, 1e-6);
        if (!c.qAmp) check(`${target} bf16 vs f32 cache ${c.name}`, got, ref, c.D, 2e-2, 0);
      }
    });
  });
}

test("attention writes exactly [S, NH, D] and reports bad arguments", { skip }, () => {
  const target = tested[0]!;
  const c = makeCall({ name: "", NH: 4, NKV: 2, D: 16, BS: 16, ...prefill(3, 20) }, 7);
  const mod = modules.get(target)!;
  const out = new Float32Array(3 * 4 * 16 + 5).fill(7777);
  mod.call("attention", ...attentionArgs(c, out));
  assert.deepEqual([...out.subarray(3 * 4 * 16)], [7777, 7777, 7777, 7777, 7777]);
  assert.throws(() => mod.call("attention", ...attentionArgs({ ...c, NH: 3 }, out)), /multiple of NKV/);
  assert.throws(() => mod.call("attention", ...attentionArgs({ ...c, qPos: Int32Array.of(0, 1, 1000) }, out)), /outside its block table/);
  assert.throws(() => mod.call("attention", ...attentionArgs({ ...c, D: 300 }, out)), /head size/);
});
