// Fusion is real: which nodes share a kernel, what is a template call, what gets a buffer.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { type Tensor, UnsupportedOpError, randn } from "../../src/index.js";
import { type Kernel, type Stmt, generateProgram, kernelsFromJSON, printKernel } from "../../src/codegen/index.js";
import { GraphBuilder, SymbolicTensor, recordingInterpreter, sym, withInterpreter } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { compileJs, graphOf } from "./graph-of.js";

const kernels = (g: k.Graph): Kernel[] => kernelsFromJSON(generateProgram(g).kernels);
const loops = (s: readonly Stmt[]): number => s.reduce((n, x) => n + (x.k === "for" || x.k === "reduce" ? 1 + loops(x.body) : 0), 0);

test("softmax over rows is one kernel: row loop, max and sum reductions, then the store loop", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 17] }], (x) => k.softmax(x, -1));
  const [kern, ...rest] = kernels(g);
  assert.equal(rest.length, 0);
  const row = kern!.body[0]!;
  assert.equal(row.k, "for");
  assert.deepEqual((row as Extract<Stmt, { k: "for" }>).body.filter((s) => s.k !== "let").map((s) => s.k === "reduce" ? s.op : s.k), ["max", "sum", "for"]);
  const x = randn([5, 17], { seed: 3 });
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-7 });
});

test("decomposed rms_norm (mean of squares, rsqrt, two muls) is one kernel, its rsqrt hoisted out of the column loop", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 64] }, { name: "w", shape: [64], kind: "param" }], (x, w) => k.rmsNorm(x, w, 1e-5));
  const ks = kernels(g);
  assert.equal(ks.length, 1);
  const row = ks[0]!.body[0] as Extract<Stmt, { k: "for" }>;
  const rowLets = row.body.filter((s) => s.k === "let");
  assert.ok(rowLets.some((s) => s.k === "let" && JSON.stringify(s.value).includes('"rsqrt"')), printKernel(ks[0]!));
  const x = randn([3, 64], { seed: 4 });
  const w = randn([64], { seed: 5 });
  const { got, want } = compileJs(g).both([x, w]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-6 });
});

test("a chain of five pointwise ops is one loop nest", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 3] }], (x) => k.tanh(k.sigmoid(k.exp(k.add(k.mul(x, 2), 1)))));
  const ks = kernels(g);
  assert.equal(ks.length, 1);
  assert.deepEqual(ks[0]!.nodes, g.nodes.filter((n) => n.op !== "input").map((n) => n.id)); // five ops, two scalar constants
  assert.equal(loops(ks[0]!.body), 2);
});

test("linear + bias + residual: the matmul is a template call reading the weight in place (transposed view)", () => {
  const g = graphOf(
    [{ name: "x", shape: ["s0", 8] }, { name: "w", shape: [6, 8], kind: "param" }, { name: "b", shape: [6], kind: "param" }, { name: "r", shape: ["s0", 6] }],
    (x, w, b, r) => k.add(k.linear(x, w, b), r),
  );
  const p = generateProgram(g);
  const ks = kernelsFromJSON(p.kernels);
  assert.equal(ks.length, 2);
  const mm = ks[0]!.body[0]!;
  assert.equal(mm.k, "matmul");
  if (mm.k !== "matmul") return;
  const w = p.buffers.find((b) => b.kind === "input" && b.inputIndex === 1)!;
  assert.equal(mm.b.buf, w.id, "B is the weight buffer itself, no copy");
  assert.deepEqual([mm.b.rowStride, mm.b.colStride], [{ k: "poly", p: 1 }, { k: "poly", p: 8 }]);
  assert.equal(ks[1]!.buffers.filter((b) => b.role === "in").length, 3, "bias add and residual fused into one kernel");
  assert.ok(p.js.source.includes("c11 += x1 * y1;"), "dot-product loop order (2×2 tiles) for a K-contiguous B");
  const args = [randn([5, 8], { seed: 1 }), randn([6, 8], { seed: 2 }), randn([6], { seed: 3 }), randn([5, 6], { seed: 4 })];
  const { got, want } = compileJs(g).both(args);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-6 });
});

test("a reduction over a non-last axis feeding a pointwise op gets its own kernel (no recomputation per row)", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 7] }], (x) => k.sub(x, k.sum(x, 0, true)));
  const ks = kernels(g);
  assert.equal(ks.length, 2);
  const [red, sub] = ks;
  assert.equal(printKernel(red!).match(/sum over/g)?.length, 1);
  assert.ok(!printKernel(sub!).includes("sum over"));
  // The reduction kernel: loop over columns, reduction loop innermost.
  const col = red!.body[0] as Extract<Stmt, { k: "for" }>;
  assert.equal(col.k, "for");
  assert.equal(col.body[0]!.k, "reduce");
  const x = randn([9, 7], { seed: 6 });
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-6 });
});

test("a row reduction used by consumers in two kernels is computed once, into a buffer", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 5] }, { name: "w", shape: [5, 5] }], (x, w) => {
    const m = k.exp(k.max(x, -1, true));
    return [k.mul(x, m), k.matmul(k.sub(x, m), w)];
  });
  const p = generateProgram(g);
  const ks = kernelsFromJSON(p.kernels);
  assert.equal(ks.filter((kk) => printKernel(kk).includes("max over")).length, 1);
  const x = randn([4, 5], { seed: 7 });
  const w = randn([5, 5], { seed: 8 });
  const { got, want } = compileJs(g).both([x, w]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-6 });
  assertAllClose(got[1]!, want[1]!, { rtol: 1e-5, atol: 1e-6 });
});

test("shared subexpressions are computed once (no exponential blow-up of repeated squaring)", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 4] }], (x) => {
    let h = k.mul(x, 0.999);
    for (let i = 0; i < 24; i++) h = k.add(k.mul(h, h), k.mul(h, 0.5));
    return h;
  });
  const p = generateProgram(g);
  assert.equal(p.report.kernels, 1);
  assert.ok(p.js.source.length < 20_000, `source is ${p.js.source.length} chars`);
  const x = k.mul(randn([3, 4], { seed: 9 }), 0.1);
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-7 });
});

test("the report lists which graph nodes each kernel fuses", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 17] }], (x) => k.softmax(x, -1));
  const p = generateProgram(g);
  assert.equal(p.report.fusion.length, 1);
  assert.deepEqual(p.report.fusion[0]!.nodes, g.nodes.filter((n) => n.op !== "input").map((n) => n.id));
  assert.equal(p.report.distinctKernels, 1);
  assert.ok(p.report.scheduleMs >= 0 && p.report.emitMs >= 0);
});

test("a composite left in the graph is an UnsupportedOpError", () => {
  const b = new GraphBuilder();
  b.addSymbol({ name: "s0", min: 1, max: 64, hint: 4 });
  const x = new SymbolicTensor(b.input("x", "arg", { dtype: "f32", shape: [sym("s0"), 8] }), b);
  const y = withInterpreter(recordingInterpreter(b, { lift: () => { throw new Error("no constants"); }, keepComposites: true }), () => k.softmax(x));
  assert.throws(() => generateProgram(b.build([(y as SymbolicTensor).node])), (e: unknown) => e instanceof UnsupportedOpError && /softmax/.test(String(e)));
});

export type { Tensor };
