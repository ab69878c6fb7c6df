// A Llama-style decoder block (RMSNorm → q/k/v with RoPE → causal GQA → o_proj → residual →
// RMSNorm → SwiGLU MLP → residual), used by tests and benchmarks.
import {
  Linear, Module, RMSNorm, type Tensor, add, arange, cast, cat, cos, expand, full, matmul, mul, permute, reshape, rotary, sin,
  softmax, silu, transpose, triu, unsqueeze, tensor,
} from "../../src/index.js";

export interface BlockConfig {
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediate: number;
  readonly ropeTheta?: number;
  readonly eps?: number;
}

/** The tests' block: hidden 64, 4 query heads sharing 2 KV heads. */
export const TINY_BLOCK: BlockConfig = { hidden: 64, heads: 4, kvHeads: 2, headDim: 16, intermediate: 128 };
/** The jit benchmark's block: hidden 1024, 16 query heads sharing 8 KV heads of dim 64. */
export const BENCH_BLOCK: BlockConfig = { hidden: 1024, heads: 16, kvHeads: 8, headDim: 64, intermediate: 3072 };

export class DecoderBlock extends Module {
  readonly cfg: BlockConfig;
  inputNorm: RMSNorm;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  postNorm: RMSNorm;
  gate: Linear;
  up: Linear;
  down: Linear;
  invFreq: Tensor;

  constructor(cfg: BlockConfig, seed = 1, init: "normal" | "empty" = "normal") {
    super();
    this.cfg = cfg;
    const { hidden, heads, kvHeads, headDim, intermediate, eps = 1e-6 } = cfg;
    this.inputNorm = new RMSNorm(hidden, eps);
    this.q = new Linear(hidden, heads * headDim, { seed: seed + 1, init });
    this.k = new Linear(hidden, kvHeads * headDim, { seed: seed + 2, init });
    this.v = new Linear(hidden, kvHeads * headDim, { seed: seed + 3, init });
    this.o = new Linear(heads * headDim, hidden, { seed: seed + 4, init });
    this.postNorm = new RMSNorm(hidden, eps);
    this.gate = new Linear(hidden, intermediate, { seed: seed + 5, init });
    this.up = new Linear(hidden, intermediate, { seed: seed + 6, init });
    this.down = new Linear(intermediate, hidden, { seed: seed + 7, init });
    const theta = cfg.ropeTheta ?? 10000;
    const freqs = Array.from({ length: headDim / 2 }, (_, i) => 1 / theta ** ((2 * i) / headDim));
    this.invFreq = this.registerBuffer("invFreq", tensor(freqs));
  }

  forward(x: Tensor): Tensor {
    const { heads, kvHeads, headDim } = this.cfg;
    const s = x.shape[0]!;
    const h = this.inputNorm.forward(x);
    // RoPE tables from positions 0..s-1.
    const pos = cast(arange(s), "f32");
    const angles = mul(unsqueeze(pos, 1), unsqueeze(this.invFreq, 0));
    const emb = cat([angles, angles], -1);
    const [c, sn] = [unsqueeze(cos(emb), 1), unsqueeze(sin(emb), 1)];
    const q = rotary(reshape(this.q.forward(h), [s, heads, headDim]), c, sn);
    const k = rotary(reshape(this.k.forward(h), [s, kvHeads, headDim]), c, sn);
    const v = reshape(this.v.forward(h), [s, kvHeads, headDim]);
    // Grouped-query attention: each KV head serves heads / kvHeads query heads.
    const rep = heads / kvHeads;
    const kx = reshape(expand(unsqueeze(k, 2), [s, kvHeads, rep, headDim]), [s, heads, headDim]);
    const vx = reshape(expand(unsqueeze(v, 2), [s, kvHeads, rep, headDim]), [s, heads, headDim]);
    const qh = permute(q, [1, 0, 2]);
    const scores = mul(matmul(qh, permute(kx, [1, 2, 0])), 1 / Math.sqrt(headDim));
    const mask = triu(full([s, s], -Infinity), 1);
    const probs = softmax(add(scores, mask), -1);
    const attn = reshape(transpose(matmul(probs, permute(vx, [1, 0, 2])), 0, 1), [s, heads * headDim]);
    const x1 = add(x, this.o.forward(attn));
    const m = this.postNorm.forward(x1);
    return add(x1, this.down.forward(mul(silu(this.gate.forward(m)), this.up.forward(m))));
  }
}
