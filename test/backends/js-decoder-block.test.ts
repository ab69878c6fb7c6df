// A Llama-style decoder block (functional API, weights as graph inputs, dynamic token count):
// generated once, the JS backend equals the reference interpreter at every size.
import assert from "node:assert/strict";
import { test } from "node:test";
import { randn } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { compileJs } from "../codegen/graph-of.js";
import { SMALL_BLOCK, blockWeights, decoderBlockGraph } from "./llama-block.js";

const graph = decoderBlockGraph(SMALL_BLOCK);
const weights = blockWeights(SMALL_BLOCK);
const compiled = compileJs(graph);

test("decoder block: one program runs at s0 = 1, 3, 64 and 513 and equals the reference", () => {
  assert.equal(graph.symbols.length, 1);
  for (const n of [1, 3, 64, 513]) {
    const x = randn([n, SMALL_BLOCK.hidden], { seed: n });
    const { got, want } = compiled.both([x, ...weights]);
    assert.deepEqual(got[0]!.dims, [n, SMALL_BLOCK.hidden]);
    assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-5 });
  }
});

test("decoder block: fused schedule — every norm and the masked softmax are one kernel each, every projection a matmul template", () => {
  const { report, js } = compiled.program;
  const ops = (kernel: string) => new Set<string>(report.fusion.find((f) => f.kernel === kernel)!.nodes.map((id) => graph.nodes[id]!.op));
  const matmuls = report.fusion.filter((f) => f.kernel.endsWith("_matmul")).length;
  assert.equal(matmuls, 9, "q, k, v, o, gate, up, down, scores and attention·v"); // no matmul is inlined or split
  const softmax = report.fusion.filter((f) => ops(f.kernel).has("exp") && ops(f.kernel).has("max"));
  assert.equal(softmax.length, 1);
  assert.ok(["triu", "full", "add", "mul", "div", "sum"].every((op) => ops(softmax[0]!.kernel).has(op)), "scale, mask, and the whole softmax in one kernel");
  const norms = report.fusion.filter((f) => ops(f.kernel).has("rsqrt"));
  assert.equal(norms.length, 2);
  for (const n of norms) assert.ok(ops(n.kernel).has("sum") && ops(n.kernel).has("mul"));
  assert.ok(report.slots < report.temps, `${report.slots} slots for ${report.temps} temporaries`);
  assert.ok(js.kernels!.length < report.kernels, "identical kernels (the two norms, …) share one function");
});

test("decoder block: repeated calls with changing sizes reuse the executable and stay right", () => {
  for (const n of [5, 2, 33, 5]) {
    const x = randn([n, SMALL_BLOCK.hidden], { seed: 100 + n });
    const { got, want } = compiled.both([x, ...weights]);
    assertAllClose(got[0]!, want[0]!, { rtol: 1e-5, atol: 1e-5 });
  }
});
