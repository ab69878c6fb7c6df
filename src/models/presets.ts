// Model presets for `kiln make-model`: the real config.json / generation_config.json of Qwen3-0.6B and
// Llama-3.2-1B-Instruct, and tiny models of the same architectures with the full vocabularies (so the real
// tokenizers work), each paired with its bundled tokenizer.
import { ArgumentError } from "../util/index.js";
import type { BundledTokenizer } from "./bundled-tokenizers.js";

export const PRESET_NAMES = ["tiny", "tiny-llama", "qwen3-0.6b", "llama-3.2-1b"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** The weight dtypes make-model writes, by their config.json `torch_dtype` name. */
export const PRESET_DTYPES = Object.freeze({ bf16: "bfloat16", f32: "float32" });
export type PresetDType = keyof typeof PRESET_DTYPES;

export interface ModelPreset {
  readonly name: PresetName;
  readonly description: string;
  readonly tokenizer: BundledTokenizer;
  /** config.json without `torch_dtype`, which make-model sets from the chosen dtype. */
  readonly config: Readonly<Record<string, unknown>>;
  readonly generationConfig: Readonly<Record<string, unknown>>;
}

/** Qwen/Qwen3-0.6B's config.json (transformers 4.51). */
const QWEN3_0_6B = {
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
  transformers_version: "4.51.0",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const QWEN3_GENERATION = {
  bos_token_id: 151643,
  do_sample: true,
  eos_token_id: [151645, 151643],
  pad_token_id: 151643,
  temperature: 0.6,
  top_k: 20,
  top_p: 0.95,
  transformers_version: "4.51.0",
};

/** meta-llama/Llama-3.2-1B-Instruct's config.json. */
const LLAMA_3_2_1B = {
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
  transformers_version: "4.45.0.dev0",
  use_cache: true,
  vocab_size: 128256,
};

const LLAMA_GENERATION = {
  bos_token_id: 128000,
  do_sample: true,
  eos_token_id: [128001, 128008, 128009],
  temperature: 0.6,
  top_p: 0.9,
  transformers_version: "4.45.0.dev0",
};

/** The shape of the tiny presets: big enough to exercise GQA and two layers, small enough for tests. */
const TINY = { hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, intermediate_size: 128 };

export const PRESETS: Readonly<Record<PresetName, ModelPreset>> = Object.freeze({
  tiny: {
    name: "tiny",
    description: "a tiny Qwen3 (hidden 64, 2 layers) with Qwen3's full vocabulary and tokenizer",
    tokenizer: "qwen3",
    config: { ...QWEN3_0_6B, ...TINY, max_window_layers: TINY.num_hidden_layers },
    generationConfig: QWEN3_GENERATION,
  },
  "tiny-llama": {
    name: "tiny-llama",
    description: "a tiny Llama 3.2 (hidden 64, 2 layers, llama3 RoPE scaling) with Llama 3's full vocabulary and tokenizer",
    tokenizer: "llama3.2",
    config: { ...LLAMA_3_2_1B, ...TINY },
    generationConfig: LLAMA_GENERATION,
  },
  "qwen3-0.6b": {
    name: "qwen3-0.6b",
    description: "Qwen3-0.6B's architecture and tokenizer (0.6B parameters; 1.2 GB in bf16)",
    tokenizer: "qwen3",
    config: QWEN3_0_6B,
    generationConfig: QWEN3_GENERATION,
  },
  "llama-3.2-1b": {
    name: "llama-3.2-1b",
    description: "Llama-3.2-1B-Instruct's architecture and tokenizer (1.2B parameters; 2.5 GB in bf16)",
    tokenizer: "llama3.2",
    config: LLAMA_3_2_1B,
    generationConfig: LLAMA_GENERATION,
  },
});

export function getPreset(name: string): ModelPreset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new ArgumentError("--preset", `unknown preset '${name}' (known: ${PRESET_NAMES.join(", ")})`);
  }
  return PRESETS[name as PresetName];
}

/** A preset's config.json object for a weight dtype, keys sorted as transformers writes them. */
export function presetConfig(preset: ModelPreset, dtype: PresetDType): Record<string, unknown> {
  if (!Object.hasOwn(PRESET_DTYPES, dtype)) throw new ArgumentError("--dtype", `unknown dtype '${dtype}' (known: ${Object.keys(PRESET_DTYPES).join(", ")})`);
  return sortKeys({ ...preset.config, torch_dtype: PRESET_DTYPES[dtype] });
}

export function sortKeys(o: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
}
