// Composite ops on random inputs: eager (their decomposition) against an independent plain-loop
// computation in f64, and the decomposed recorded graph against eager, bit for bit.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GraphBuilder, SymbolicTensor, interpret, recordingInterpreter } from "../../src/graph/index.js";
import * as k from "../../src/ops/index.js";
import { COMPOSITE_OPS, type CompositeOp, withInterpreter } from "../../src/ops/index.js";
import { type DType, Tensor, randn, tensor } from "../../src/tensor/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

/** An input and how to make one. */
interface Case {
  inputs: () => Tensor[];
  run: (xs: readonly Tensor[]) => Tensor;
  /** The independent computation: flat row-major values in f64, and the output shape. */
  expect: (xs: readonly Tensor[]) => { shape: number[]; values: number[] };
}

const vals = (x: Tensor): number[] => Array.from(x.values());
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Splits `shape` around `axis` into the sizes before it, along it and after it. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  const a = axis < 0 ? axis + shape.length : axis;
  return [prod(shape.slice(0, a)), shape[a]!, prod(shape.slice(a + 1))];
}

function handMean(x: Tensor, axis: number) {
  const [outer, n, inner] = around(x.dims, axis);
  const v = vals(x);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let r = 0; r < n; r++) s += v[(o * n + r) * inner + i]!;
      out.push(s / n);
    }
  }
  const a = axis < 0 ? axis + x.rank : axis;
  return { shape: x.dims.filter((_, i) => i !== a), values: out };
}

function handSoftmax(x: Tensor, axis: number) {
  const [outer, n, inner] = around(x.dims, axis);
  const v = vals(x);
  const out = new Array<number>(v.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (r: number) => (o * n + r) * inner + i;
      let m = -Infinity;
      for (let r = 0; r < n; r++) m = Math.max(m, v[at(r)]!);
      let s = 0;
      for (let r = 0; r < n; r++) s += Math.exp(v[at(r)]! - m);
      for (let r = 0; r < n; r++) out[at(r)] = Math.exp(v[at(r)]! - m) / s;
    }
  }
  return { shape: [...x.dims], values: out };
}

function handLinear(x: Tensor, w: Tensor, b?: Tensor) {
  const [outF, inF] = w.dims as [number, number];
  const rows = x.size / inF;
  const [vx, vw, vb] = [vals(x), vals(w), b ? vals(b) : undefined];
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = vb ? vb[o]! : 0;
      for (let i = 0; i < inF; i++) s += vx[r * inF + i]! * vw[o * inF + i]!;
      out.push(s);
    }
  }
  return { shape: [...x.dims.slice(0, -1), outF], values: out };
}

function handEmbedding(ids: Tensor, w: Tensor) {
  const d = w.dims[1]!;
  const vw = vals(w);
  return { shape: [...ids.dims, d], values: vals(ids).flatMap((id) => vw.slice(id * d, id * d + d)) };
}

function handStack(xs: readonly Tensor[], axis: number) {
  const rank = xs[0]!.rank + 1;
  const a = axis < 0 ? axis + rank : axis;
  const shape = [...xs[0]!.dims.slice(0, a), xs.length, ...xs[0]!.dims.slice(a)];
  const [outer, , inner] = around(shape, a);
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const x of xs) out.push(...vals(x).slice(o * inner, o * inner + inner));
  return { shape, values: out };
}

function handRmsNorm(x: Tensor, w: Tensor, eps: number) {
  const d = x.dims[x.rank - 1]!;
  const [vx, vw] = [vals(x), vals(w)];
  const out = new Array<number>(vx.length);
  for (let r = 0; r < vx.length / d; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += vx[r * d + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) out[r * d + i] = vx[r * d + i]! * inv * vw[i]!;
  }
  return { shape: [...x.dims], values: out };
}

/** x·cos + rotate_half(x)·sin with cos/sin already of x's shape. */
function handRotary(x: Tensor, cos: Tensor, sin: Tensor) {
  const d = x.dims[x.rank - 1]!;
  const h = d / 2;
  const [vx, vc, vs] = [vals(x), vals(k.expand(cos, x.dims)), vals(k.expand(sin, x.dims))];
  const out = vx.map((xi, j) => {
    const i = j % d;
    const rot = i < h ? -vx[j + h]! : vx[j - h]!;
    return xi * vc[j]! + rot * vs[j]!;
  });
  return { shape: [...x.dims], values: out };
}

/** Paged attention by its definition: each query's context rows looked up through the block table, two-pass softmax. */
function handPagedAttention([q, kc, vc, table, seqIds, positions]: readonly Tensor[], scale: number) {
  const [S, NH, D] = q!.dims as [number, number, number];
  const [, BS, NKV] = kc!.dims as [number, number, number];
  const maxBlocks = table!.dims[1]!;
  const [vq, vk, vv, vt, vs, vp] = [q!, kc!, vc!, table!, seqIds!, positions!].map(vals);
  const out: number[] = [];
  for (let t = 0; t < S; t++) {
    for (let h = 0; h < NH; h++) {
      const kvHead = Math.floor(h / (NH / NKV));
      const rows = Array.from({ length: vp![t]! + 1 }, (_, j) => ((vt![vs![t]! * maxBlocks + Math.floor(j / BS)]! * BS + (j % BS)) * NKV + kvHead) * D);
      const scores = rows.map((row) => scale * Array.from({ length: D }, (_, e) => vq![(t * NH + h) * D + e]! * vk![row + e]!).reduce((a, b) => a + b, 0));
      const max = Math.max(...scores);
      const w = scores.map((s) => Math.exp(s - max));
      const total = w.reduce((a, b) => a + b, 0);
      for (let e = 0; e < D; e++) out.push(rows.reduce((acc, row, j) => acc + (w[j]! / total) * vv![row + e]!, 0));
    }
  }
  return { shape: [S, NH, D], values: out };
}

const r = (shape: number[], seed: number, dtype: DType = "f32") => randn(shape, { seed, dtype });
const i32 = (data: number[] | number[][]) => tensor(data, { dtype: "i32" });

const CASES: Record<CompositeOp, Case[]> = {
  mean: [
    { inputs: () => [r([3, 5, 4], 1)], run: ([x]) => k.mean(x!, 1), expect: ([x]) => handMean(x!, 1) },
    { inputs: () => [r([6, 7], 2)], run: ([x]) => k.mean(x!, -1), expect: ([x]) => handMean(x!, -1) },
  ],
  softmax: [
    { inputs: () => [r([4, 9], 3, "f32")], run: ([x]) => k.softmax(x!, -1), expect: ([x]) => handSoftmax(x!, -1) },
    { inputs: () => [k.mul(r([2, 5, 3], 4), 50)], run: ([x]) => k.softmax(x!, 1), expect: ([x]) => handSoftmax(x!, 1) },
  ],
  linear: [
    { inputs: () => [r([2, 3, 8], 5), r([6, 8], 6), r([6], 7)], run: ([x, w, b]) => k.linear(x!, w!, b), expect: ([x, w, b]) => handLinear(x!, w!, b) },
    { inputs: () => [r([5, 4], 8), r([3, 4], 9)], run: ([x, w]) => k.linear(x!, w!), expect: ([x, w]) => handLinear(x!, w!) },
  ],
  embedding: [
    {
      inputs: () => [tensor([[3, 0, 3], [1, 4, 2]], { dtype: "i32" }), r([5, 6], 10)],
      run: ([ids, w]) => k.embedding(ids!, w!),
      expect: ([ids, w]) => handEmbedding(ids!, w!),
    },
  ],
  stack: [
    { inputs: () => [r([2, 3], 11), r([2, 3], 12), r([2, 3], 13)], run: (xs) => k.stack(xs, 1), expect: (xs) => handStack(xs, 1) },
    { inputs: () => [r([2, 3], 14), r([2, 3], 15)], run: (xs) => k.stack(xs, -1), expect: (xs) => handStack(xs, -1) },
  ],
  rms_norm: [
    { inputs: () => [r([3, 16], 16), r([16], 17)], run: ([x, w]) => k.rmsNorm(x!, w!, 1e-6), expect: ([x, w]) => handRmsNorm(x!, w!, 1e-6) },
    { inputs: () => [k.mul(r([2, 2, 8], 18), 1e-3), r([8], 19)], run: ([x, w]) => k.rmsNorm(x!, w!, 1e-5), expect: ([x, w]) => handRmsNorm(x!, w!, 1e-5) },
  ],
  rotary: [
    { inputs: () => [r([3, 2, 8], 20), r([3, 1, 8], 21), r([3, 1, 8], 22)], run: ([x, c, s]) => k.rotary(x!, c!, s!), expect: ([x, c, s]) => handRotary(x!, c!, s!) },
  ],
  paged_attention: [
    // Prefill of one sequence (positions 0..4) over shuffled blocks of 2; GQA 4 heads over 2.
    {
      inputs: () => [r([5, 4, 8], 23), r([5, 2, 2, 8], 24), r([5, 2, 2, 8], 25), i32([[3, 0, 4]]), i32([0, 0, 0, 0, 0]), i32([0, 1, 2, 3, 4])],
      run: (xs) => k.pagedAttention(...(xs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]), 0.3),
      expect: (xs) => handPagedAttention(xs, 0.3),
    },
    // Decode of two sequences at once, at different positions.
    {
      inputs: () => [r([2, 2, 4], 26), r([4, 3, 1, 4], 27), r([4, 3, 1, 4], 28), i32([[2, 1], [0, 3]]), i32([1, 0]), i32([5, 2])],
      run: (xs) => k.pagedAttention(...(xs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]), 0.5),
      expect: (xs) => handPagedAttention(xs, 0.5),
    },
    // A bf16 cache: rows widened to f32.
    {
      inputs: () => [r([2, 2, 4], 29), r([4, 3, 1, 4], 30, "bf16"), r([4, 3, 1, 4], 31, "bf16"), i32([[2, 1], [0, 3]]), i32([1, 0]), i32([5, 2])],
      run: (xs) => k.pagedAttention(...(xs as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]), 0.5),
      expect: (xs) => handPagedAttention(xs, 0.5),
    },
  ],
};

for (const op of COMPOSITE_OPS) {
  test(`composite ${op}: eager decomposition equals an independent computation`, () => {
    const cases = CASES[op];
    assert.ok(cases.length > 0);
    for (const c of cases) {
      const xs = c.inputs();
      const got = c.run(xs);
      const want = c.expect(xs);
      assert.deepEqual(got.dims, want.shape);
      assertAllClose(got.values(), want.values, { rtol: 1e-5, atol: 1e-6 });
    }
  });

  test(`composite ${op}: its recorded decomposition has only primitive ops and runs like eager`, () => {
    for (const c of CASES[op]) {
      const xs = c.inputs();
      for (const keepComposites of [false, true]) {
        const b = new GraphBuilder();
        const ins = xs.map((x, i) => new SymbolicTensor(b.input(`x${i}`, "arg", { dtype: x.dtype, shape: x.shape }), b));
        const noConstants = { lift: () => { throw new Error("unexpected constant"); } };
        const y = withInterpreter(recordingInterpreter(b, { ...noConstants, keepComposites }), () => c.run(ins)) as SymbolicTensor;
        const g = b.build([y.node]);
        const ops = g.nodes.map((n) => n.op);
        if (keepComposites) assert.ok(ops.includes(op), `${op} kept whole`);
        else assert.ok(!ops.some((o) => (COMPOSITE_OPS as readonly string[]).includes(o)), `decomposed: ${ops.join(" ")}`);
        const [out] = interpret(g, xs);
        assert.deepEqual(Array.from(out!.values()), Array.from(c.run(xs).values()));
      }
    }
  });
}

test("half-precision composites compute in f32 and round once at the end", () => {
  const x = r([4, 8], 30, "bf16");
  const w = r([8], 31, "bf16");
  const y = k.rmsNorm(x, w, 1e-6);
  assert.equal(y.dtype, "bf16");
  // Normalised in f32, rounded to bf16, then scaled by the bf16 weight: within two bf16 roundings.
  assertAllClose(y.values(), handRmsNorm(x, w, 1e-6).values, { rtol: 2 * 2 ** -8, atol: 1e-6 });
  const s = k.softmax(k.mul(x, 8));
  assert.equal(s.dtype, "bf16");
  assertAllClose(s.values(), handSoftmax(k.mul(x, 8), -1).values, { rtol: 2 ** -8, atol: 1e-6 });
  assert.ok(s.values().every((v) => v >= 0 && v <= 1));
});
