// HF config.json parsing: the fixture, real Llama 3.2 / Qwen3 configs, transformers' defaults, and field-naming errors.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigFieldError, MAX_JSON_DEPTH, parseHfConfig, readHfConfig } from "../../src/models/index.js";
import { ModelFormatError, canonicalJson } from "../../src/util/index.js";
import { projectRoot } from "../helpers/root.js";

const tmp = mkdtempSync(join(tmpdir(), "kiln-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Llama-3.2-1B's config.json as published (abridged to the fields transformers reads). */
const LLAMA_32_1B = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: "silu",
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: "llama3" },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.45.0.dev0",
  use_cache: true,
  vocab_size: 128256,
};

/** Qwen3-0.6B's config.json as published. */
const QWEN3_06B = {
  architectures: ["Qwen3ForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  head_dim: 128,
  hidden_act: "silu",
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 40960,
  max_window_layers: 28,
  model_type: "qwen3",
  num_attention_heads: 16,
  num_hidden_layers: 28,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: null,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.51.0",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const TINY_LLAMA = {
  architectures: ["LlamaForCausalLM"],
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 128,
  vocab_size: 256,
};

function without(obj: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  const out = { ...obj };
  for (const k of keys) delete out[k];
  return out;
}

/** Parsing `json` fails with a ConfigFieldError for `field` whose message matches `message`. */
function failsOn(json: unknown, field: string, message: RegExp): void {
  assert.throws(
    () => parseHfConfig(json, "/m/config.json"),
    (e: unknown) => {
      assert.ok(e instanceof ConfigFieldError, `expected ConfigFieldError, got ${String(e)}`);
      assert.ok(e instanceof ModelFormatError);
      assert.equal(e.field, field);
      assert.equal(e.path, "/m/config.json");
      assert.ok(e.message.includes(`config field ${field}:`), e.message);
      assert.match(e.message, message);
      return true;
    },
  );
}

test("the tiny-qwen3 fixture config", () => {
  const c = readHfConfig(join(projectRoot(), "test", "fixtures", "tiny-qwen3", "config.json"));
  assert.equal(c.architecture, "Qwen3ForCausalLM");
  assert.equal(c.modelType, "qwen3");
  assert.deepEqual(
    [c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim, c.intermediateSize, c.vocabSize],
    [64, 2, 4, 2, 16, 128, 512],
  );
  assert.equal(c.ropeTheta, 1e6);
  assert.equal(c.rmsNormEps, 1e-6);
  assert.equal(c.tieWordEmbeddings, true);
  assert.equal(c.maxPositionEmbeddings, 512);
  assert.equal(c.hiddenAct, "silu");
  assert.equal(c.bosTokenId, 1);
  assert.deepEqual(c.eosTokenIds, [2]);
  assert.equal(c.torchDtype, "f32");
  assert.equal(c.ropeScaling, null);
  assert.equal(c.attentionBias, false);
  assert.equal(c.qkNorm, true);
  assert.equal(c.raw.hidden_size, 64);
  assert.ok(Object.isFrozen(c.raw) && Object.isFrozen(c.raw.architectures));
});

test("Llama 3.2 1B: GQA, explicit head_dim, llama3 RoPE scaling, a list of eos ids", () => {
  const c = parseHfConfig(LLAMA_32_1B);
  assert.equal(c.architecture, "LlamaForCausalLM");
  assert.deepEqual([c.numAttentionHeads, c.numKeyValueHeads, c.headDim], [32, 8, 64]);
  assert.deepEqual(c.ropeScaling, { ropeType: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.bosTokenId, 128000);
  assert.deepEqual(c.eosTokenIds, [128001, 128008, 128009]);
  assert.equal(c.torchDtype, "bf16");
  assert.equal(c.qkNorm, false);
  assert.equal(c.tieWordEmbeddings, true);
  // The raw JSON is kept whole, and its canonical form does not depend on key order.
  const reordered = Object.fromEntries(Object.entries(LLAMA_32_1B).reverse());
  assert.equal(canonicalJson(parseHfConfig(reordered).raw), canonicalJson(c.raw));
  assert.equal(c.raw.transformers_version, "4.45.0.dev0");
});

test("Qwen3 0.6B", () => {
  const c = parseHfConfig(QWEN3_06B);
  assert.deepEqual([c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads, c.numKeyValueHeads, c.headDim], [1024, 28, 16, 8, 128]);
  assert.equal(c.headDim * c.numAttentionHeads, 2048); // head_dim is not hidden/heads here
  assert.deepEqual(c.eosTokenIds, [151645]);
  assert.equal(c.maxPositionEmbeddings, 40960);
  assert.equal(c.ropeScaling, null);
});

test("absent fields take transformers' defaults for the architecture", () => {
  const l = parseHfConfig(TINY_LLAMA);
  assert.equal(l.numKeyValueHeads, 4); // = num_attention_heads
  assert.equal(l.headDim, 16); // = hidden / heads
  assert.equal(l.ropeTheta, 10000);
  assert.equal(l.rmsNormEps, 1e-6);
  assert.equal(l.tieWordEmbeddings, false);
  assert.equal(l.maxPositionEmbeddings, 2048);
  assert.equal(l.bosTokenId, 1);
  assert.deepEqual(l.eosTokenIds, [2]);
  assert.equal(l.torchDtype, null);
  assert.equal(l.attentionBias, false);
  assert.equal(l.mlpBias, false);
  // Explicit nulls: kv heads fall back to heads, head_dim to hidden/heads, token ids to none.
  const n = parseHfConfig({ ...TINY_LLAMA, num_key_value_heads: null, head_dim: null, bos_token_id: null, eos_token_id: null });
  assert.deepEqual([n.numKeyValueHeads, n.headDim, n.bosTokenId, n.eosTokenIds], [4, 16, null, []]);
  // Qwen3Config's own defaults: head_dim 128 and 32 kv heads, no token ids.
  const q = parseHfConfig({ ...TINY_LLAMA, architectures: ["Qwen3ForCausalLM"], num_attention_heads: 32 });
  assert.deepEqual([q.headDim, q.numKeyValueHeads, q.maxPositionEmbeddings, q.bosTokenId, q.eosTokenIds], [128, 32, 32768, null, []]);
  // The architecture from model_type when `architectures` is absent; newer transformers' `dtype` and `rope_parameters`.
  const v5 = parseHfConfig({
    ...without(TINY_LLAMA, "architectures"),
    model_type: "llama",
    dtype: "float16",
    rope_parameters: { rope_type: "default", rope_theta: 250000 },
  });
  assert.deepEqual([v5.architecture, v5.torchDtype, v5.ropeTheta, v5.ropeScaling], ["LlamaForCausalLM", "f16", 250000, null]);
  const mixed = parseHfConfig({ ...TINY_LLAMA, architectures: ["SomethingElse", "LlamaForCausalLM"], attention_bias: true, mlp_bias: true });
  assert.deepEqual([mixed.architecture, mixed.attentionBias, mixed.mlpBias], ["LlamaForCausalLM", true, true]);
});

test("missing or wrongly typed fields are named", () => {
  failsOn(without(TINY_LLAMA, "hidden_size"), "hidden_size", /missing/);
  failsOn({ ...TINY_LLAMA, hidden_size: null }, "hidden_size", /missing/);
  failsOn(without(TINY_LLAMA, "vocab_size"), "vocab_size", /missing/);
  failsOn({ ...TINY_LLAMA, hidden_size: "64" }, "hidden_size", /expected a positive integer, got "64"/);
  failsOn({ ...TINY_LLAMA, num_hidden_layers: 2.5 }, "num_hidden_layers", /positive integer/);
  failsOn({ ...TINY_LLAMA, intermediate_size: 0 }, "intermediate_size", /positive integer/);
  failsOn({ ...TINY_LLAMA, num_attention_heads: -4 }, "num_attention_heads", /positive integer/);
  failsOn({ ...TINY_LLAMA, rms_norm_eps: 0 }, "rms_norm_eps", /positive number, got 0/);
  failsOn({ ...TINY_LLAMA, rope_theta: "1e4" }, "rope_theta", /positive number/);
  failsOn({ ...TINY_LLAMA, tie_word_embeddings: "yes" }, "tie_word_embeddings", /true or false/);
  failsOn({ ...TINY_LLAMA, attention_bias: 1 }, "attention_bias", /true or false/);
  failsOn({ ...TINY_LLAMA, torch_dtype: "float64" }, "torch_dtype", /"float64" is not supported/);
  failsOn({ ...TINY_LLAMA, hidden_act: "gelu" }, "hidden_act", /"gelu" is not supported/);
  failsOn({ ...TINY_LLAMA, eos_token_id: [2, "x"] }, "eos_token_id[1]", /token id/);
  failsOn({ ...TINY_LLAMA, eos_token_id: 300 }, "eos_token_id", /outside the vocabulary \(vocab_size 256\)/);
  failsOn({ ...TINY_LLAMA, bos_token_id: -1 }, "bos_token_id", /non-negative integer/);
  failsOn({ ...TINY_LLAMA, max_position_embeddings: 0 }, "max_position_embeddings", /positive integer/);
});

test("sizes past Kiln's limits, zero heads and negative sizes are named before anything is sized from them", () => {
  failsOn({ ...TINY_LLAMA, num_hidden_layers: 10_000_000 }, "num_hidden_layers", /10000000 is over the limit of 4096/);
  failsOn({ ...TINY_LLAMA, num_attention_heads: 8192, hidden_size: 8192 }, "num_attention_heads", /over the limit of 4096/);
  failsOn({ ...TINY_LLAMA, num_key_value_heads: 5000 }, "num_key_value_heads", /over the limit of 4096/);
  failsOn({ ...TINY_LLAMA, hidden_size: 2 ** 21 }, "hidden_size", /over the limit of 1048576/);
  failsOn({ ...TINY_LLAMA, intermediate_size: 2 ** 23 }, "intermediate_size", /over the limit/);
  failsOn({ ...TINY_LLAMA, head_dim: 8192 }, "head_dim", /over the limit of 4096/);
  // A head_dim derived from hidden_size / heads is bounded too.
  failsOn({ ...TINY_LLAMA, hidden_size: 2 ** 20, num_attention_heads: 1 }, "head_dim", /1048576 is over the limit of 4096/);
  failsOn({ ...TINY_LLAMA, vocab_size: 2 ** 31 }, "vocab_size", /over the limit of 2147483647 \(token ids are i32\)/);
  failsOn({ ...TINY_LLAMA, max_position_embeddings: 2 ** 40 }, "max_position_embeddings", /\(positions are i32\)/);
  failsOn({ ...TINY_LLAMA, num_attention_heads: 0 }, "num_attention_heads", /positive integer, got 0/);
  failsOn({ ...TINY_LLAMA, num_key_value_heads: 0 }, "num_key_value_heads", /positive integer, got 0/);
  failsOn({ ...TINY_LLAMA, num_hidden_layers: -1 }, "num_hidden_layers", /positive integer, got -1/);
  failsOn({ ...TINY_LLAMA, vocab_size: -256 }, "vocab_size", /positive integer, got -256/);
  failsOn({ ...TINY_LLAMA, head_dim: -16 }, "head_dim", /positive integer, got -16/);
  // The limits themselves are accepted.
  const at = parseHfConfig({ ...TINY_LLAMA, num_hidden_layers: 4096, vocab_size: 2 ** 31 - 1, max_position_embeddings: 2 ** 31 - 1 });
  assert.deepEqual([at.numHiddenLayers, at.vocabSize], [4096, 2 ** 31 - 1]);
});

test("deeply nested config.json: a ModelFormatError naming the file, never a stack overflow", () => {
  const deep = (n: number): unknown => {
    let v: unknown = [];
    for (let i = 0; i < n; i++) v = [v];
    return v;
  };
  const file = join(tmp, "deep.json");
  writeFileSync(file, JSON.stringify({ ...TINY_LLAMA, quantization_config: "X" }).replace('"X"', `${"[".repeat(100_000)}${"]".repeat(100_000)}`));
  for (const load of [() => readHfConfig(file), () => parseHfConfig({ ...TINY_LLAMA, extra: deep(100_000) }, file)]) {
    assert.throws(load, (e: unknown) => e instanceof ModelFormatError && e.path === file && /nests deeper than 64 levels/.test(e.message));
  }
  // Nesting up to the limit is fine.
  assert.equal(parseHfConfig({ ...TINY_LLAMA, extra: deep(MAX_JSON_DEPTH - 2) }).numHiddenLayers, 2);
});

test("architecture problems are named", () => {
  failsOn({ ...TINY_LLAMA, architectures: ["MistralForCausalLM"] }, "architectures", /no supported architecture/);
  failsOn({ ...TINY_LLAMA, architectures: "LlamaForCausalLM" }, "architectures", /expected a list/);
  failsOn(without(TINY_LLAMA, "architectures"), "architectures", /missing/);
  failsOn({ ...TINY_LLAMA, model_type: "qwen3" }, "model_type", /does not match architecture LlamaForCausalLM/);
  failsOn({ ...QWEN3_06B, use_sliding_window: true }, "use_sliding_window", /not supported/);
});

test("inconsistent sizes are named", () => {
  failsOn({ ...TINY_LLAMA, num_attention_heads: 5 }, "head_dim", /hidden_size 64 is not divisible by num_attention_heads 5/);
  failsOn({ ...TINY_LLAMA, num_key_value_heads: 3 }, "num_key_value_heads", /3 does not divide num_attention_heads 4/);
  failsOn({ ...TINY_LLAMA, head_dim: 15 }, "head_dim", /odd/);
  // With head_dim given, heads need not divide hidden (as in Qwen3-0.6B).
  assert.equal(parseHfConfig({ ...TINY_LLAMA, num_attention_heads: 6, num_key_value_heads: 2, head_dim: 8 }).headDim, 8);
  // Qwen3's default of 32 kv heads does not divide 4 heads: the same failure transformers would hit.
  failsOn({ ...TINY_LLAMA, architectures: ["Qwen3ForCausalLM"] }, "num_key_value_heads", /32 does not divide num_attention_heads 4/);
});

test("RoPE scaling problems are named", () => {
  const rs = LLAMA_32_1B.rope_scaling;
  failsOn({ ...LLAMA_32_1B, rope_scaling: { ...rs, rope_type: "yarn" } }, "rope_scaling.rope_type", /"yarn" is not supported/);
  failsOn({ ...LLAMA_32_1B, rope_scaling: without(rs, "rope_type") }, "rope_scaling.rope_type", /missing/);
  failsOn({ ...LLAMA_32_1B, rope_scaling: without(rs, "factor") }, "rope_scaling.factor", /positive number, got nothing/);
  failsOn({ ...LLAMA_32_1B, rope_scaling: { ...rs, high_freq_factor: 1 } }, "rope_scaling.high_freq_factor", /greater than low_freq_factor 1/);
  failsOn({ ...LLAMA_32_1B, rope_scaling: { ...rs, original_max_position_embeddings: 8192.5 } }, "rope_scaling.original_max_position_embeddings", /positive integer/);
  failsOn({ ...LLAMA_32_1B, rope_scaling: "llama3" }, "rope_scaling", /expected an object/);
  // The older spelling `type` is read too.
  const old = parseHfConfig({ ...LLAMA_32_1B, rope_scaling: { ...without(rs, "rope_type"), type: "llama3" } });
  assert.equal(old.ropeScaling?.factor, 32);
});

test("files that are not JSON objects, or missing", () => {
  const bad = join(tmp, "bad.json");
  writeFileSync(bad, "{ not json\n\n}");
  // One line, whatever the text around the error.
  assert.throws(() => readHfConfig(bad), (e: unknown) => e instanceof ModelFormatError && e.path === bad && /not valid JSON/.test(e.message) && !e.message.includes("\n"));
  assert.throws(() => parseHfConfig([1, 2], "c.json"), (e: unknown) => e instanceof ModelFormatError && /must be a JSON object/.test(e.message));
  const missing = join(tmp, "missing.json");
  assert.throws(() => readHfConfig(missing), (e: unknown) => e instanceof ModelFormatError && e.path === missing && /ENOENT/.test(e.message));
});
