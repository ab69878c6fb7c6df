// Multi-output kernels: consecutive kernels over the same loop domain that do not read each other's results are one
// loop nest with a store each (RoPE's cos and sin, a layer's K and V cache stores), and what only they need is inlined.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { randn, tensor, traceModule } from "../../src/index.js";
import { type Kernel, type Stmt, generateProgram, kernelsFromJSON } from "../../src/codegen/index.js";
import { runPipeline } from "../../src/passes/index.js";
import { CausalLM, pagedDynamicDims, parseHfConfig } from "../../src/models/index.js";
import { PagedKvCache, SequenceBlocks, batchInputs } from "../../src/engine/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { TINY_QWEN3_DIR } from "../helpers/tiny-qwen3.js";
import { compileJs, graphOf } from "./graph-of.js";

const stores = (body: readonly Stmt[]): Extract<Stmt, { k: "store" }>[] =>
  body.flatMap((s) => (s.k === "store" ? [s] : s.k === "for" || s.k === "reduce" ? stores(s.body) : []));

test("RoPE's cos and sin of one angle table are one kernel with two stores; the table gets no buffer", () => {
  const g = graphOf([{ name: "pos", shape: ["s0"] }, { name: "invFreq", shape: [8], kind: "param" }], (pos, inv) => {
    const angles = k.mul(k.unsqueeze(pos, 1), k.unsqueeze(inv, 0));
    const emb = k.cat([angles, angles], -1);
    return [k.cos(emb), k.sin(emb)];
  });
  const p = generateProgram(g);
  const [kern, ...rest] = kernelsFromJSON(p.kernels);
  assert.equal(rest.length, 0);
  assert.equal(stores(kern!.body).length, 2);
  assert.equal(kern!.body.filter((s) => s.k === "for").length, 1, "one loop nest");
  assert.equal(p.buffers.filter((b) => b.kind === "temp").length, 0, "the angle table is computed in the kernel");
  const { got, want } = compileJs(g).both([tensor([0, 1, 5, 17, 300]), randn([8], { seed: 1 })]);
  for (let i = 0; i < 2; i++) assertAllClose(got[i]!, want[i]!, { rtol: 1e-6, atol: 1e-6 });
});

test("a kernel that reads another's result, or loops over another shape, is not fused with it", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 12] }], (x) => {
    const y = k.exp(x);
    return [y, k.mul(y, 2), k.sum(x, -1)];
  });
  const ks = kernelsFromJSON(generateProgram(g).kernels);
  assert.deepEqual(ks.map((kern) => stores(kern.body).length), [1, 1, 1]);
});

/** The tiny Qwen3 fixture's paged forward with `layers` layers, traced as the engine compiles it. */
function qwen3Kernels(layers: number): { kernels: Kernel[]; ops: (kern: Kernel) => string[] } {
  const config = parseHfConfig({ ...JSON.parse(readFileSync(join(TINY_QWEN3_DIR, "config.json"), "utf8")), num_hidden_layers: layers });
  const cache = new PagedKvCache({ layers, kvHeads: config.numKeyValueHeads, headDim: config.headDim }, { tokens: 64 });
  const seq = new SequenceBlocks();
  cache.reserve(seq, 3);
  const args = batchInputs(cache, [{ blocks: seq, tokens: [1, 2, 3], start: 0 }]);
  const graph = runPipeline(traceModule(new CausalLM(config, "f32"), args, { dynamic: pagedDynamicDims(layers) }).graph).graph;
  const kernels = kernelsFromJSON(generateProgram(graph).kernels);
  return { kernels, ops: (kern) => kern.nodes.map((id) => graph.nodes[id]!.op) };
}

test("Qwen3 decoder (tiny fixture, 2 layers): 33 kernels, 37 before multi-output kernels — cos and sin in one, K and V stores in one per layer", () => {
  const { kernels, ops } = qwen3Kernels(2);
  assert.equal(kernels.length, 33);
  const rope = kernels.filter((kern) => ops(kern).includes("cos") || ops(kern).includes("sin"));
  assert.equal(rope.length, 1);
  assert.ok(["cos", "sin", "cat"].every((op) => ops(rope[0]!).includes(op)), "the angle table is computed inside");
  const kv = kernels.filter((kern) => ops(kern).includes("kv_store"));
  assert.equal(kv.length, 2);
  for (const kern of kv) assert.equal(ops(kern).filter((op) => op === "kv_store").length, 2, kern.name);
  // Each further layer adds the same 15 kernels.
  assert.equal(qwen3Kernels(3).kernels.length, 33 + 15);
});
