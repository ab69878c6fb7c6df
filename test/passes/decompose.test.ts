import assert from "node:assert/strict";
import { test } from "node:test";
import {
  COMPOSITE_OPS, OPS, cast, embedding, linear, mean, pagedAttention, rmsNorm, rotary, softmax, stack,
} from "../../src/index.js";
import { decompose } from "../../src/passes/index.js";
import { assertGolden } from "../helpers/golden.js";
import { buildGraph, checkPass, ops } from "../graph/graph-kit.js";

const isComposite = (op: string) => OPS[op as keyof typeof OPS].category === "composite";

test("decompose expands every composite (nested ones too) into primitives, keeping values and sources", () => {
  let line = 0;
  const g = buildGraph(
    [
      { name: "x", shape: ["s0", 8] },
      { name: "xh", shape: ["s0", 8], dtype: "bf16" },
      { name: "w", shape: [8], kind: "param" },
      { name: "pw", shape: [6, 8], kind: "param" },
      { name: "pb", shape: [6], kind: "param" },
      { name: "ids", shape: ["s0"], dtype: "i32" },
      { name: "table", shape: [5, 8], kind: "param" },
      { name: "cos", shape: ["s0", 8] },
      { name: "sin", shape: ["s0", 8] },
    ],
    (x, xh, w, pw, pb, ids, table, cosT, sinT) => [
      mean(x, -1, true),
      softmax(linear(rmsNorm(x, w, 1e-5), pw, pb), -1),
      softmax(xh, 0),
      rmsNorm(xh, w, 1e-6), // bf16 input, f32 weight: normalised in f32, cast back, promoted
      embedding(ids, table),
      stack([x, rotary(x, cosT, sinT)], 1),
      linear(x, pw),
    ],
    { source: () => `model.ts:${++line}` },
  );
  assert.deepEqual(
    COMPOSITE_OPS.filter((op) => !OPS[op].keepWhole && !ops(g).includes(op)),
    [],
    "the test graph holds every composite that decompose expands",
  );
  const d = checkPass(decompose, g, [{ s0: 1 }, { s0: 6 }]);
  assert.deepEqual(ops(d).filter(isComposite), []);
  // Every new node carries the source of the composite it came from.
  for (const n of d.nodes) assert.match(n.source ?? "", /^model\.ts:\d+$/, `node ${n.op} lost its source`);
  const rmsSource = g.nodes.find((n) => n.op === "rms_norm")!.source;
  assert.ok(d.nodes.filter((n) => n.source === rmsSource).map((n) => n.op).includes("rsqrt"));
  // Types are kept: the outputs have the composites' types.
  assert.deepEqual(d.outputs.map((o) => o.type.dtype), g.outputs.map((o) => o.type.dtype));
});

test("decompose keeps template composites (paged_attention) whole: the code generator runs them as one kernel", () => {
  const g = buildGraph(
    [
      { name: "q", shape: ["s0", 2, 4] }, { name: "kc", shape: [3, 2, 1, 4] }, { name: "vc", shape: [3, 2, 1, 4] },
      { name: "bt", shape: [1, 3], dtype: "i32" }, { name: "seq", shape: ["s0"], dtype: "i32" }, { name: "pos", shape: ["s0"], dtype: "i32" },
    ],
    (q, kc, vc, bt, seq, pos) => [pagedAttention(q, kc, vc, bt, seq, pos, 0.5)],
  );
  assert.deepEqual(ops(decompose.run(g)).filter(isComposite), ["paged_attention"]);
});

test("decompose golden: rms_norm on bf16, mean over a dynamic dim, rotary", () => {
  const g = buildGraph(
    [{ name: "x", shape: ["s0", 4], dtype: "bf16" }, { name: "w", shape: [4], dtype: "bf16", kind: "param" }, { name: "cs", shape: ["s0", 4] }],
    (x, w, cs) => [rmsNorm(x, w, 1e-6), mean(cast(x, "f32"), 0), rotary(cast(x, "f32"), cs, cs)],
  );
  const d = checkPass(decompose, g, [{ s0: 3 }]);
  assertGolden(d.toString(), "decompose.txt");
});

test("decompose leaves a graph of primitives as it is", () => {
  const g = buildGraph([{ name: "x", shape: [3, 4] }], (x) => cast(x, "bf16"));
  assert.equal(checkPass(decompose, g).toString(), g.toString());
  // Running it twice changes nothing more.
  const h = buildGraph([{ name: "x", shape: [2, 4] }], (x) => softmax(x, -1));
  const once = decompose.run(h);
  assert.equal(decompose.run(once).toString(), once.toString());
});
