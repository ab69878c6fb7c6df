// Hugging Face config.json for LlamaForCausalLM and Qwen3ForCausalLM, parsed and validated into a typed ModelConfig.
import type { DType } from "../tensor/index.js";
import { ModelFormatError } from "../util/index.js";
import { checkJsonDepth, describe, readJsonFile } from "./json-file.js";

export const ARCHITECTURES = ["LlamaForCausalLM", "Qwen3ForCausalLM"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** The `model_type` transformers writes for each architecture. */
export const MODEL_TYPES: Readonly<Record<Architecture, string>> = Object.freeze({
  LlamaForCausalLM: "llama",
  Qwen3ForCausalLM: "qwen3",
});

export const HIDDEN_ACTS = ["silu"] as const;
export type HiddenAct = (typeof HIDDEN_ACTS)[number];

/** Llama 3.1's frequency-dependent RoPE scaling (`rope_type: "llama3"`). */
export interface Llama3RopeScaling {
  readonly ropeType: "llama3";
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalMaxPositionEmbeddings: number;
}
export type RopeScaling = Llama3RopeScaling;

export interface ModelConfig {
  readonly architecture: Architecture;
  readonly modelType: string;
  readonly hiddenSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly vocabSize: number;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositionEmbeddings: number;
  readonly hiddenAct: HiddenAct;
  readonly bosTokenId: number | null;
  /** `eos_token_id` may be one id or a list in config.json; always a list here (possibly empty). */
  readonly eosTokenIds: readonly number[];
  /** The checkpoint's stored dtype (`torch_dtype`, or `dtype` in newer transformers); null when absent. */
  readonly torchDtype: DType | null;
  readonly ropeScaling: RopeScaling | null;
  /** q/k/v/o projections carry biases. */
  readonly attentionBias: boolean;
  /** gate/up/down projections carry biases (Llama's `mlp_bias`). */
  readonly mlpBias: boolean;
  /** Per-head RMSNorm on queries and keys (Qwen3). */
  readonly qkNorm: boolean;
  /** The parsed config.json, deep-frozen: the whole of it will be a cache-key factor (`canonicalJson(raw)`). */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** A config.json field that is missing, of the wrong type, out of range or inconsistent with another. */
export class ConfigFieldError extends ModelFormatError {
  constructor(
    path: string,
    readonly field: string,
    message: string,
  ) {
    super(path, `config field ${field}: ${message}`);
  }
}

/**
 * What transformers assumes when a key is absent from config.json (the `LlamaConfig` / `Qwen3Config` defaults), so
 * Kiln reads a checkpoint exactly as transformers does. `null` head_dim means hidden_size / num_attention_heads;
 * `null` num_key_value_heads means num_attention_heads. The sizes that define the weights are required instead.
 */
interface Defaults {
  readonly numKeyValueHeads: number | null;
  readonly headDim: number | null;
  readonly ropeTheta: number;
  readonly rmsNormEps: number;
  readonly tieWordEmbeddings: boolean;
  readonly maxPositionEmbeddings: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
}

const DEFAULTS: Readonly<Record<Architecture, Defaults>> = {
  LlamaForCausalLM: {
    numKeyValueHeads: null,
    headDim: null,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: 2048,
    bosTokenId: 1,
    eosTokenId: 2,
  },
  Qwen3ForCausalLM: {
    numKeyValueHeads: 32,
    headDim: 128,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: false,
    maxPositionEmbeddings: 32768,
    bosTokenId: null,
    eosTokenId: null,
  },
};

/**
 * The largest size config.json may give each field: far above any published model, small enough that nothing is
 * looped over, named or allocated from an absurd value (10 million layers, say) before the weights are checked.
 */
export const CONFIG_LIMITS: Readonly<Record<string, { readonly max: number; readonly why?: string }>> = Object.freeze({
  num_hidden_layers: { max: 4096 },
  num_attention_heads: { max: 4096 },
  num_key_value_heads: { max: 4096 },
  head_dim: { max: 4096 },
  hidden_size: { max: 2 ** 20 },
  intermediate_size: { max: 2 ** 22 },
  vocab_size: { max: 2 ** 31 - 1, why: "token ids are i32" },
  max_position_embeddings: { max: 2 ** 31 - 1, why: "positions are i32" },
});

const TORCH_DTYPES: Readonly<Record<string, DType>> = { float32: "f32", bfloat16: "bf16", float16: "f16" };

/** Reads and validates a config.json file. */
export function readHfConfig(path: string): ModelConfig {
  return parseHfConfig(readJsonFile(path, "config"), path);
}

/** Validates a parsed config.json; every problem is a ConfigFieldError naming the field. */
export function parseHfConfig(json: unknown, path = "config.json"): ModelConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ModelFormatError(path, `config must be a JSON object, got ${describe(json)}`);
  }
  checkJsonDepth(json, path);
  const cfg = json as Record<string, unknown>;
  const has = (k: string): boolean => Object.hasOwn(cfg, k) && cfg[k] !== null && cfg[k] !== undefined;
  const fail = (field: string, msg: string): never => {
    throw new ConfigFieldError(path, field, msg);
  };
  const posInt = (field: string, fallback?: number): number => {
    if (!has(field)) return fallback ?? fail(field, "missing (a positive integer is required)");
    const v = cfg[field];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) fail(field, `expected a positive integer, got ${describe(v)}`);
    return bounded(field, v as number);
  };
  const bounded = (field: string, v: number): number => {
    const limit = CONFIG_LIMITS[field];
    if (limit && v > limit.max) fail(field, `${v} is over the limit of ${limit.max}${limit.why ? ` (${limit.why})` : ""}`);
    return v;
  };
  const posNum = (field: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) fail(field, `expected a positive number, got ${describe(v)}`);
    return v as number;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    if (!has(field)) return fallback;
    const v = cfg[field];
    if (typeof v !== "boolean") fail(field, `expected true or false, got ${describe(v)}`);
    return v as boolean;
  };

  const architecture = parseArchitecture(cfg, path);
  const defaults = DEFAULTS[architecture];
  const modelType = MODEL_TYPES[architecture];
  if (has("model_type") && cfg.model_type !== modelType) {
    fail("model_type", `${describe(cfg.model_type)} does not match architecture ${architecture} (expected "${modelType}")`);
  }

  const hiddenSize = posInt("hidden_size");
  const numHiddenLayers = posInt("num_hidden_layers");
  const numAttentionHeads = posInt("num_attention_heads");
  const intermediateSize = posInt("intermediate_size");
  const vocabSize = posInt("vocab_size");
  const kvDefault = Object.hasOwn(cfg, "num_key_value_heads") ? null : defaults.numKeyValueHeads;
  const numKeyValueHeads = posInt("num_key_value_heads", kvDefault ?? numAttentionHeads);
  const hdDefault = Object.hasOwn(cfg, "head_dim") ? null : defaults.headDim;
  let headDim: number;
  if (has("head_dim") || hdDefault !== null) {
    headDim = posInt("head_dim", hdDefault ?? undefined);
  } else {
    if (hiddenSize % numAttentionHeads !== 0) {
      fail("head_dim", `absent, and hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
    }
    headDim = bounded("head_dim", hiddenSize / numAttentionHeads);
  }
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fail("num_key_value_heads", `${numKeyValueHeads} does not divide num_attention_heads ${numAttentionHeads}`);
  }
  if (headDim % 2 !== 0) fail("head_dim", `${headDim} is odd; rotary embeddings rotate pairs of dimensions`);

  const ropeParams = has("rope_parameters") ? cfg.rope_parameters : undefined;
  if (ropeParams !== undefined && (typeof ropeParams !== "object" || Array.isArray(ropeParams))) {
    fail("rope_parameters", `expected an object, got ${describe(ropeParams)}`);
  }
  const ropeParamsObj = ropeParams as Record<string, unknown> | undefined;
  const ropeTheta = has("rope_theta")
    ? posNum("rope_theta", cfg.rope_theta)
    : ropeParamsObj !== undefined && Object.hasOwn(ropeParamsObj, "rope_theta")
      ? posNum("rope_parameters.rope_theta", ropeParamsObj.rope_theta)
      : defaults.ropeTheta;
  const ropeScaling = has("rope_scaling")
    ? parseRopeScaling(cfg.rope_scaling, "rope_scaling", fail)
    : ropeParamsObj !== undefined
      ? parseRopeScaling(ropeParamsObj, "rope_parameters", fail)
      : null;
  const rmsNormEps = has("rms_norm_eps") ? posNum("rms_norm_eps", cfg.rms_norm_eps) : defaults.rmsNormEps;
  const maxPositionEmbeddings = posInt("max_position_embeddings", defaults.maxPositionEmbeddings);

  let hiddenAct: HiddenAct = "silu";
  if (has("hidden_act")) {
    const v = cfg.hidden_act;
    if (typeof v !== "string" || !(HIDDEN_ACTS as readonly string[]).includes(v)) {
      fail("hidden_act", `${describe(v)} is not supported (supported: ${HIDDEN_ACTS.join(", ")})`);
    }
    hiddenAct = v as HiddenAct;
  }

  const tokenId = (field: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) fail(field, `expected a token id (a non-negative integer), got ${describe(v)}`);
    if ((v as number) >= vocabSize) fail(field, `token id ${v as number} is outside the vocabulary (vocab_size ${vocabSize})`);
    return v as number;
  };
  const bosTokenId = has("bos_token_id")
    ? tokenId("bos_token_id", cfg.bos_token_id)
    : Object.hasOwn(cfg, "bos_token_id") || defaults.bosTokenId === null
      ? null
      : tokenId("bos_token_id", defaults.bosTokenId);
  let eosTokenIds: number[];
  if (has("eos_token_id")) {
    const v = cfg.eos_token_id;
    eosTokenIds = Array.isArray(v) ? v.map((x, i) => tokenId(`eos_token_id[${i}]`, x)) : [tokenId("eos_token_id", v)];
  } else {
    eosTokenIds = Object.hasOwn(cfg, "eos_token_id") || defaults.eosTokenId === null ? [] : [tokenId("eos_token_id", defaults.eosTokenId)];
  }

  const dtypeField = has("torch_dtype") ? "torch_dtype" : "dtype";
  let torchDtype: DType | null = null;
  if (has(dtypeField)) {
    const v = cfg[dtypeField];
    if (typeof v !== "string" || !Object.hasOwn(TORCH_DTYPES, v)) {
      fail(dtypeField, `${describe(v)} is not supported (supported: ${Object.keys(TORCH_DTYPES).join(", ")})`);
    }
    torchDtype = TORCH_DTYPES[v as string]!;
  }

  if (architecture === "Qwen3ForCausalLM" && bool("use_sliding_window", false)) {
    fail("use_sliding_window", "sliding-window attention is not supported");
  }

  return Object.freeze({
    architecture,
    modelType,
    hiddenSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    intermediateSize,
    vocabSize,
    ropeTheta,
    rmsNormEps,
    tieWordEmbeddings: bool("tie_word_embeddings", defaults.tieWordEmbeddings),
    maxPositionEmbeddings,
    hiddenAct,
    bosTokenId,
    eosTokenIds: Object.freeze(eosTokenIds),
    torchDtype,
    ropeScaling,
    attentionBias: bool("attention_bias", false),
    mlpBias: architecture === "LlamaForCausalLM" ? bool("mlp_bias", false) : false,
    qkNorm: architecture === "Qwen3ForCausalLM",
    raw: deepFreeze(structuredClone(cfg)),
  });
}

function parseArchitecture(cfg: Record<string, unknown>, path: string): Architecture {
  const archs = cfg.architectures;
  if (archs !== undefined && archs !== null) {
    if (!Array.isArray(archs) || archs.some((a) => typeof a !== "string")) {
      throw new ConfigFieldError(path, "architectures", `expected a list of names, got ${describe(archs)}`);
    }
    const found = (archs as string[]).find((a): a is Architecture => (ARCHITECTURES as readonly string[]).includes(a));
    if (found === undefined) {
      throw new ConfigFieldError(path, "architectures", `${describe(archs)} holds no supported architecture (supported: ${ARCHITECTURES.join(", ")})`);
    }
    return found;
  }
  const byType = ARCHITECTURES.find((a) => MODEL_TYPES[a] === cfg.model_type);
  if (byType === undefined) {
    throw new ConfigFieldError(path, "architectures", `missing, and model_type ${describe(cfg.model_type)} names no supported architecture`);
  }
  return byType;
}

function parseRopeScaling(v: unknown, field: string, fail: (field: string, msg: string) => never): RopeScaling | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return fail(field, `expected an object, got ${describe(v)}`);
  const o = v as Record<string, unknown>;
  const typeKey = Object.hasOwn(o, "rope_type") ? "rope_type" : "type";
  const type = o[typeKey];
  if (type === "default" || (type === undefined && field === "rope_parameters")) return null;
  if (type === undefined) return fail(`${field}.rope_type`, "missing (supported: default, llama3)");
  if (type !== "llama3") return fail(`${field}.${typeKey}`, `${describe(type)} is not supported (supported: default, llama3)`);
  const num = (k: string): number => {
    const x = o[k];
    if (typeof x !== "number" || !Number.isFinite(x) || x <= 0) fail(`${field}.${k}`, `expected a positive number, got ${describe(x)}`);
    return x as number;
  };
  const factor = num("factor");
  const lowFreqFactor = num("low_freq_factor");
  const highFreqFactor = num("high_freq_factor");
  if (highFreqFactor <= lowFreqFactor) {
    fail(`${field}.high_freq_factor`, `${highFreqFactor} must be greater than low_freq_factor ${lowFreqFactor}`);
  }
  const orig = o.original_max_position_embeddings;
  if (typeof orig !== "number" || !Number.isSafeInteger(orig) || orig <= 0) {
    fail(`${field}.original_max_position_embeddings`, `expected a positive integer, got ${describe(orig)}`);
  }
  return Object.freeze({ ropeType: "llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: orig as number });
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
