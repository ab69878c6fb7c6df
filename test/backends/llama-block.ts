// A Llama-style decoder block built with the functional API as a graph (weights are graph
// inputs, the token count s0 is dynamic): RMSNorm → q/k/v linear → heads → RoPE → causal GQA
// attention (mask = triu of full(-inf)) → output projection → residual → RMSNorm → SwiGLU → residual.
import * as k from "../../src/index.js";
import { type Graph, type Tensor, randn, tensor } from "../../src/index.js";
import { type InputSpec, graphOf } from "../codegen/graph-of.js";
import type { BlockConfig as ModuleBlockConfig } from "../nn/decoder-block.js";

/** The module block's config (test/nn/decoder-block.ts), with eps required. */
export interface BlockConfig extends ModuleBlockConfig {
  readonly eps: number;
}

export const SMALL_BLOCK: BlockConfig = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128, eps: 1e-6 };

function inputSpecs(c: BlockConfig): InputSpec[] {
  const p = (name: string, shape: number[]): InputSpec => ({ name, shape, kind: "param" });
  return [
    { name: "x", shape: ["s0", c.hidden] },
    p("attn_norm", [c.hidden]),
    p("wq", [c.heads * c.headDim, c.hidden]),
    p("wk", [c.kvHeads * c.headDim, c.hidden]),
    p("wv", [c.kvHeads * c.headDim, c.hidden]),
    p("wo", [c.hidden, c.heads * c.headDim]),
    p("mlp_norm", [c.hidden]),
    p("w_gate", [c.intermediate, c.hidden]),
    p("w_up", [c.intermediate, c.hidden]),
    p("w_down", [c.hidden, c.intermediate]),
    p("inv_freq", [c.headDim / 2]),
  ];
}

/** The block's forward on tensors (symbolic or concrete). */
export function decoderBlock(c: BlockConfig, x: Tensor, ...w: Tensor[]): Tensor {
  const [attnNorm, wq, wk, wv, wo, mlpNorm, wGate, wUp, wDown, invFreq] = w as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const s = x.shape[0]!;
  const { heads, kvHeads, headDim: hd } = c;
  const h = k.rmsNorm(x, attnNorm, c.eps);
  // RoPE tables for positions 0..s-1.
  const angles = k.mul(k.unsqueeze(k.cast(k.arange(s), "f32"), 1), k.unsqueeze(invFreq, 0));
  const emb = k.cat([angles, angles], -1);
  const [cos, sin] = [k.unsqueeze(k.cos(emb), 1), k.unsqueeze(k.sin(emb), 1)];
  const q = k.permute(k.rotary(k.reshape(k.linear(h, wq), [s, heads, hd]), cos, sin), [1, 0, 2]); // [H, s, hd]
  const kk = k.permute(k.rotary(k.reshape(k.linear(h, wk), [s, kvHeads, hd]), cos, sin), [1, 0, 2]); // [KV, s, hd]
  const v = k.permute(k.reshape(k.linear(h, wv), [s, kvHeads, hd]), [1, 0, 2]);
  // Grouped-query attention: each KV head serves heads / kvHeads query heads.
  const group = (t: Tensor) => k.reshape(k.expand(k.unsqueeze(t, 1), [kvHeads, heads / kvHeads, s, hd]), [heads, s, hd]);
  const scores = k.mul(k.matmul(q, k.transpose(group(kk))), 1 / Math.sqrt(hd));
  const mask = k.triu(k.full([s, s], -Infinity), 1);
  const attn = k.matmul(k.softmax(k.add(scores, mask), -1), group(v)); // [H, s, hd]
  const merged = k.reshape(k.permute(attn, [1, 0, 2]), [s, heads * hd]);
  const x1 = k.add(x, k.linear(merged, wo));
  const h2 = k.rmsNorm(x1, mlpNorm, c.eps);
  const mlp = k.linear(k.mul(k.silu(k.linear(h2, wGate)), k.linear(h2, wUp)), wDown);
  return k.add(x1, mlp);
}

export function decoderBlockGraph(c: BlockConfig = SMALL_BLOCK): Graph {
  return graphOf(inputSpecs(c), (x, ...w) => decoderBlock(c, x!, ...w));
}

/** Random weights (in graph input order, after x), scaled like an initialised model. */
export function blockWeights(c: BlockConfig = SMALL_BLOCK, seed = 1): Tensor[] {
  const lin = (o: number, i: number, s: number) => k.mul(randn([o, i], { seed: seed * 100 + s }), 1 / Math.sqrt(i));
  const norm = (s: number) => k.add(k.mul(randn([c.hidden], { seed: seed * 100 + s }), 0.1), 1);
  const invFreq = tensor(Array.from({ length: c.headDim / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / c.headDim)));
  return [
    norm(1), lin(c.heads * c.headDim, c.hidden, 2), lin(c.kvHeads * c.headDim, c.hidden, 3), lin(c.kvHeads * c.headDim, c.hidden, 4),
    lin(c.hidden, c.heads * c.headDim, 5), norm(6), lin(c.intermediate, c.hidden, 7), lin(c.intermediate, c.hidden, 8),
    lin(c.hidden, c.intermediate, 9), invFreq,
  ];
}
