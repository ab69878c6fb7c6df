// The Llama / Qwen3 decoder-only causal LM as an nn.Module. Field paths are the Hugging Face
// tensor names (model.layers.0.self_attn.q_proj.weight, …), so a checkpoint loads with loadStateDict.
import { type DType, type Tensor, tensor } from "../tensor/index.js";
import {
  add, cast, cat, cos, expand, full, indexSelect, kvStore, matmul, mul, pagedAttention, permute, reshape, rotary, silu, sin, softmax, transpose, triu,
  unsqueeze, arange, linear,
} from "../ops/index.js";
import { Embedding, Linear, Module, RMSNorm } from "../nn/index.js";
import type { ModelConfig } from "./hf-config.js";
import type { DynamicSpec } from "../trace/index.js";
import { ArgumentError, InternalError } from "../util/index.js";

const empty = (dtype: DType) => ({ init: "empty" as const, dtype });

/** The paged form's inputs after `ids`, in order; then the caches k0, v0, k1, v1, … */
export const PAGED_INPUTS = ["positions", "seqIds", "slots", "blockTable", "logitRows"] as const;

/**
 * The dynamic dims of the paged form, for compile()/supportsCompile(): tokens, sequences,
 * block-table width, logit rows and cache blocks each vary on their own (named groups, so two
 * that happen to be equal in the first call are not merged).
 */
export function pagedDynamicDims(layers: number): DynamicSpec {
  const tokens = { 0: { group: "tokens" } };
  const spec: Record<number, Record<number, { group: string }>> = {
    0: tokens, 1: tokens, 2: tokens, 3: tokens, 4: { 0: { group: "sequences" }, 1: { group: "tableWidth" } }, 5: { 0: { group: "logitRows" } },
  };
  for (let i = 0; i < 2 * layers; i++) spec[6 + i] = { 0: { group: "cacheBlocks" } };
  return spec;
}

interface PagedBatch {
  /** [tokens] i32 each: the token's position in its sequence, its sequence's row of the block table, its cache slot. */
  readonly positions: Tensor;
  readonly seqIds: Tensor;
  readonly slots: Tensor;
  /** [sequences, maxBlocks] i32. */
  readonly blockTable: Tensor;
  /** [rows] i32: the token rows whose logits are wanted. */
  readonly logitRows: Tensor;
  /** Per layer, K then V: [numBlocks, blockSize, kvHeads, headDim]. */
  readonly caches: readonly Tensor[];
}

interface LayerKv {
  readonly batch: PagedBatch;
  readonly kCache: Tensor;
  readonly vCache: Tensor;
}

function pagedBatch(paged: readonly Tensor[], layers: number): PagedBatch {
  const [positions, seqIds, slots, blockTable, logitRows, ...caches] = paged;
  if (!logitRows || caches.length !== 2 * layers) {
    throw new ArgumentError("CausalLM.forward", `the paged form takes ids, ${PAGED_INPUTS.join(", ")} and a K and a V cache per layer (${2 * layers}); got ${paged.length + 1} tensors`);
  }
  return { positions: positions!, seqIds: seqIds!, slots: slots!, blockTable: blockTable!, logitRows, caches };
}

/** RoPE inverse frequencies, with Llama 3's frequency-dependent scaling when the (validated) config asks for it. */
export function ropeInverseFrequencies(config: ModelConfig): Float32Array {
  const d = config.headDim;
  const inv = Float32Array.from({ length: d / 2 }, (_, i) => 1 / config.ropeTheta ** ((2 * i) / d));
  const scaling = config.ropeScaling;
  if (scaling === null) return inv;
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: original } = scaling;
  const lowWavelen = original / lowFreqFactor;
  const highWavelen = original / highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (original / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

class Attention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  q_norm: RMSNorm | undefined;
  k_norm: RMSNorm | undefined;
  constructor(readonly config: ModelConfig, dtype: DType) {
    super();
    const { hiddenSize: h, numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d, attentionBias: bias } = config;
    this.q_proj = new Linear(h, nh * d, { ...empty(dtype), bias });
    this.k_proj = new Linear(h, nkv * d, { ...empty(dtype), bias });
    this.v_proj = new Linear(h, nkv * d, { ...empty(dtype), bias });
    this.o_proj = new Linear(nh * d, h, { ...empty(dtype), bias });
    this.q_norm = config.qkNorm ? new RMSNorm(d, config.rmsNormEps, { dtype }) : undefined;
    this.k_norm = config.qkNorm ? new RMSNorm(d, config.rmsNormEps, { dtype }) : undefined;
  }

  /**
   * Causal grouped-query attention: over the whole sequence when `kv` is absent; otherwise the
   * tokens' K/V are written into the layer's paged cache and attention reads it (prefill, decode
   * and batches of both are the same code).
   */
  forward(x: Tensor, cosT: Tensor, sinT: Tensor, kv?: LayerKv): Tensor {
    const { numAttentionHeads: nh, numKeyValueHeads: nkv, headDim: d } = this.config;
    const s = x.shape[0]!;
    let q = reshape(this.q_proj.forward(x), [s, nh, d]);
    let k = reshape(this.k_proj.forward(x), [s, nkv, d]);
    const v = reshape(this.v_proj.forward(x), [s, nkv, d]);
    if (this.q_norm && this.k_norm) {
      q = this.q_norm.forward(q);
      k = this.k_norm.forward(k);
    }
    q = rotary(q, cosT, sinT);
    k = rotary(k, cosT, sinT);
    if (kv) {
      const kCache = kvStore(kv.kCache, k, kv.batch.slots);
      const vCache = kvStore(kv.vCache, v, kv.batch.slots);
      const { blockTable, seqIds, positions } = kv.batch;
      const out = pagedAttention(q, kCache, vCache, blockTable, seqIds, positions, 1 / Math.sqrt(d));
      return this.o_proj.forward(reshape(out, [s, nh * d]));
    }
    const rep = nh / nkv;
    const kx = reshape(expand(unsqueeze(k, 2), [s, nkv, rep, d]), [s, nh, d]);
    const vx = reshape(expand(unsqueeze(v, 2), [s, nkv, rep, d]), [s, nh, d]);
    const scores = add(mul(matmul(permute(q, [1, 0, 2]), permute(kx, [1, 2, 0])), 1 / Math.sqrt(d)), triu(full([s, s], -Infinity), 1));
    const out = matmul(softmax(scores, -1), permute(vx, [1, 0, 2]));
    return this.o_proj.forward(reshape(transpose(out, 0, 1), [s, nh * d]));
  }
}

class Mlp extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  constructor(config: ModelConfig, dtype: DType) {
    super();
    const { hiddenSize: h, intermediateSize: i, mlpBias: bias } = config;
    this.gate_proj = new Linear(h, i, { ...empty(dtype), bias });
    this.up_proj = new Linear(h, i, { ...empty(dtype), bias });
    this.down_proj = new Linear(i, h, { ...empty(dtype), bias });
  }
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(mul(silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

class DecoderLayer extends Module {
  input_layernorm: RMSNorm;
  self_attn: Attention;
  post_attention_layernorm: RMSNorm;
  mlp: Mlp;
  constructor(config: ModelConfig, dtype: DType) {
    super();
    this.input_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { dtype });
    this.self_attn = new Attention(config, dtype);
    this.post_attention_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { dtype });
    this.mlp = new Mlp(config, dtype);
  }
  forward(x: Tensor, cosT: Tensor, sinT: Tensor, kv?: LayerKv): Tensor {
    const h = add(x, this.self_attn.forward(this.input_layernorm.forward(x), cosT, sinT, kv));
    return add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

class Backbone extends Module {
  embed_tokens: Embedding;
  layers: DecoderLayer[];
  norm: RMSNorm;
  constructor(config: ModelConfig, dtype: DType) {
    super();
    this.embed_tokens = new Embedding(config.vocabSize, config.hiddenSize, empty(dtype));
    this.layers = Array.from({ length: config.numHiddenLayers }, () => new DecoderLayer(config, dtype));
    this.norm = new RMSNorm(config.hiddenSize, config.rmsNormEps, { dtype });
  }
  forward(): never {
    throw new InternalError("Backbone runs inside CausalLM.forward");
  }
}

/** `LlamaForCausalLM` / `Qwen3ForCausalLM`: token ids [s] (i32) → logits [s, vocab] (f32). */
export class CausalLM extends Module {
  readonly config: ModelConfig;
  model: Backbone;
  lm_head: Linear | undefined;
  invFreq: Tensor;

  /** Weights start empty (zeros): load them with loadStateDict(checkpoint.tensors). */
  constructor(config: ModelConfig, dtype: DType = config.torchDtype ?? "f32") {
    super();
    this.config = config;
    this.model = new Backbone(config, dtype);
    this.lm_head = config.tieWordEmbeddings ? undefined : new Linear(config.hiddenSize, config.vocabSize, empty(dtype));
    this.invFreq = this.registerBuffer("invFreq", tensor(ropeInverseFrequencies(config)));
  }

  /**
   * `forward(ids)`: logits of every position of one sequence, recomputed from scratch.
   * `forward(ids, positions, seqIds, slots, blockTable, logitRows, k0, v0, k1, v1, …)`: the paged
   * form (see PAGED_INPUTS): the tokens' K/V go into the caches, and logits come out only for
   * the rows `logitRows` (the last token of each sequence, say) → [rows, vocab].
   */
  forward(ids: Tensor, ...paged: Tensor[]): Tensor {
    const batch = paged.length ? pagedBatch(paged, this.config.numHiddenLayers) : undefined;
    const s = ids.shape[0]!;
    const positions = batch ? cast(batch.positions, "f32") : cast(arange(s), "f32");
    const angles = mul(unsqueeze(positions, 1), unsqueeze(this.invFreq, 0));
    const emb = cat([angles, angles], -1);
    const [cosT, sinT] = [unsqueeze(cos(emb), 1), unsqueeze(sin(emb), 1)];
    // Weights may be bf16/f16; activations are always f32 (weights are widened as they are read).
    let h = this.model.embed_tokens.forward(ids);
    if (h.dtype !== "f32") h = cast(h, "f32");
    this.model.layers.forEach((layer, i) => {
      h = layer.forward(h, cosT, sinT, batch && { batch, kCache: batch.caches[2 * i]!, vCache: batch.caches[2 * i + 1]! });
    });
    if (batch) h = indexSelect(h, 0, batch.logitRows);
    h = this.model.norm.forward(h);
    const logits = this.lm_head ? this.lm_head.forward(h) : linear(h, this.model.embed_tokens.weight);
    return logits.dtype === "f32" ? logits : cast(logits, "f32");
  }
}
