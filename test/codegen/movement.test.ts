// Movement ops are index remaps inside their consumers' loads, never copies.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { randn } from "../../src/index.js";
import { generateProgram, kernelsFromJSON, printKernel } from "../../src/codegen/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { compileJs, graphOf } from "./graph-of.js";

/** The kernels' statements as text (signature lines dropped). */
const printed = (g: k.Graph) =>
  kernelsFromJSON(generateProgram(g).kernels).map((kk) => printKernel(kk).split("\n").slice(1).join("\n")).join("\n");

test("reshape [s0,1024] -> [s0,16,64]: dims are grouped, so the load needs no division or modulo", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 1024] }], (x) => k.mul(k.reshape(x, [x.shape[0]!, 16, 64]), 2));
  const text = printed(g);
  assert.ok(!/\/\/|%/.test(text), text);
  const x = randn([3, 1024], { seed: 1 });
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-6, atol: 0 });
});

test("heads transposed and flattened back: division only inside the 1024 group, never on the s0 row", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 1024] }], (x) => {
    const h = k.reshape(x, [x.shape[0]!, 16, 64]);
    return k.reshape(k.permute(k.mul(h, 2), [0, 2, 1]), [x.shape[0]!, 1024]);
  });
  const text = printed(g);
  assert.equal(generateProgram(g).report.kernels, 1);
  // The row variable i0 only ever appears as the loop and as 1024*i0 (no division or modulo of it).
  assert.equal(text.match(/i0\b/g)!.length, 1 + text.match(/1024\*i0\b/g)!.length, text);
  assert.ok(/\/\/|%/.test(text), text);
  const x = randn([3, 1024], { seed: 1 });
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-6, atol: 0 });
});

test("a reshape whose dims do not group ([4,6] -> [3,8]) falls back to linearise + unravel", () => {
  const g = graphOf([{ name: "x", shape: [4, 6] }], (x) => k.add(k.reshape(k.transpose(x), [3, 8]), 1));
  const text = printed(g);
  assert.ok(/\/\/|%/.test(text), text);
  const x = randn([4, 6], { seed: 2 });
  const { got, want } = compileJs(g).both([x]);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-6, atol: 0 });
});

test("slice, expand and cat compose into one kernel of selects and shifted loads", () => {
  const g = graphOf([{ name: "a", shape: ["s0", 6] }, { name: "b", shape: [1, 3] }], (a, b) => {
    const s = a.shape[0]!;
    const left = k.slice(a, 1, 1, 6, 2); // [s0, 3]
    const right = k.expand(b, [s, 3]);
    return k.exp(k.cat([left, right, left], 1));
  });
  const p = generateProgram(g);
  assert.equal(p.report.kernels, 1);
  assert.equal(p.report.temps, 0);
  for (const n of [1, 4]) {
    const inputs = [randn([n, 6], { seed: n }), randn([1, 3], { seed: 9 })];
    const { got, want } = compileJs(g).both(inputs);
    assertAllClose(got[0]!, want[0]!, { rtol: 1e-6, atol: 0 });
  }
});

test("a matmul operand that is a strided view (sliced, permuted, broadcast batch) is read in place", () => {
  const g = graphOf([{ name: "q", shape: ["s0", 2, 8] }, { name: "kv", shape: ["s0", 1, 16] }], (q, kv) => {
    const kk = k.slice(kv, 2, 0, 8); // [s0,1,8], non-contiguous
    const qh = k.permute(q, [1, 0, 2]); // [2,s0,8]
    const kt = k.permute(kk, [1, 2, 0]); // [1,8,s0], batch broadcast to 2
    return k.matmul(qh, kt);
  });
  const p = generateProgram(g);
  assert.equal(p.report.kernels, 1);
  assert.equal(p.report.temps, 0);
  const inputs = [randn([5, 2, 8], { seed: 1 }), randn([5, 1, 16], { seed: 2 })];
  const { got, want } = compileJs(g).both(inputs);
  assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-6 });
});
