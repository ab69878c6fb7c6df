// Checkpoint loading: an HF model folder (config.json + one or sharded safetensors files) checked against its config.
import { existsSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { type TensorType, type Tensor, isFloat } from "../tensor/index.js";
import { ModelFormatError } from "../util/index.js";
import { type ModelConfig, readHfConfig } from "./hf-config.js";
import { type ByteSource, decodeSafetensors } from "./safetensors.js";
import { mapFileBytes } from "./file-map.js";
import { parseJsonText } from "./json-file.js";

export const CONFIG_FILE = "config.json";
export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";

export interface Checkpoint {
  readonly dir: string;
  readonly config: ModelConfig;
  /** Every tensor of the weight files, by HF name; each views the bytes of the file it came from. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** Absolute paths of the files read: config.json, then the index (if sharded), then the weight files. */
  readonly files: readonly string[];
}

export interface LoadCheckpointOptions {
  /** A file in the folder to read weights from instead of the default (a `.safetensors` or an `.index.json`). */
  readonly weights?: string;
  /** Where bytes come from (default: one read of each file). */
  readonly readBytes?: ByteSource;
  /** Check names and shapes against the config (default true). */
  readonly check?: boolean;
}

/**
 * Loads an HF model folder. As transformers does, `model.safetensors` is preferred over
 * `model.safetensors.index.json`. Names and shapes are then checked against the config.
 */
export function loadCheckpoint(dir: string, options: LoadCheckpointOptions = {}): Checkpoint {
  const root = resolve(dir);
  const configPath = join(root, CONFIG_FILE);
  const config = readHfConfig(configPath);
  const readBytes = options.readBytes ?? mapFileBytes;
  let weights = options.weights;
  if (weights === undefined) {
    if (existsSync(join(root, SAFETENSORS_FILE))) weights = SAFETENSORS_FILE;
    else if (existsSync(join(root, SAFETENSORS_INDEX_FILE))) weights = SAFETENSORS_INDEX_FILE;
    else throw new ModelFormatError(root, `no weights: neither ${SAFETENSORS_FILE} nor ${SAFETENSORS_INDEX_FILE} exists`);
  }
  const weightsPath = join(root, weights);
  let tensors: ReadonlyMap<string, Tensor>;
  let files: string[];
  if (weights.endsWith(".index.json")) {
    const sharded = loadShardedSafetensors(weightsPath, readBytes);
    tensors = sharded.tensors;
    files = [weightsPath, ...sharded.files];
  } else {
    tensors = decodeSafetensors(readBytes(weightsPath), weightsPath).tensors;
    files = [weightsPath];
  }
  if (options.check ?? true) checkTensors(config, tensors, weightsPath);
  return { dir: root, config, tensors, files: [configPath, ...files] };
}

export interface SafetensorsIndex {
  /** Tensor name → shard file name (relative to the index's folder), in the index's order. */
  readonly weightMap: ReadonlyMap<string, string>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Parses `model.safetensors.index.json` text; shard names must stay inside the folder. */
export function parseSafetensorsIndex(text: string, path: string): SafetensorsIndex {
  const json = parseJsonText(text, path, "index");
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new ModelFormatError(path, "index must be a JSON object");
  const { weight_map: map, metadata = {} } = json as Record<string, unknown>;
  if (map === null || typeof map !== "object" || Array.isArray(map)) throw new ModelFormatError(path, "index has no weight_map object");
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) throw new ModelFormatError(path, "index metadata must be an object");
  const weightMap = new Map<string, string>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || file === "" || isAbsolute(file) || file.split(/[\\/]/).includes("..")) {
      throw new ModelFormatError(path, `weight_map entry ${JSON.stringify(file)} is not a file name inside the folder`, name);
    }
    weightMap.set(name, file);
  }
  return { weightMap, metadata: metadata as Record<string, unknown> };
}

/**
 * Reads a sharded checkpoint: each shard once. A shard that cannot be read, a listed tensor absent from its shard,
 * or a shard tensor the index does not map to that shard is a ModelFormatError naming the tensor.
 */
export function loadShardedSafetensors(
  indexPath: string,
  readBytes: ByteSource = mapFileBytes,
): { tensors: ReadonlyMap<string, Tensor>; files: string[] } {
  const index = parseSafetensorsIndex(new TextDecoder().decode(readBytes(indexPath)), indexPath);
  const folder = resolve(indexPath, "..");
  const byShard = new Map<string, string[]>();
  for (const [name, file] of index.weightMap) {
    const names = byShard.get(file);
    if (names) names.push(name);
    else byShard.set(file, [name]);
  }
  const tensors = new Map<string, Tensor>();
  const files: string[] = [];
  for (const [file, names] of byShard) {
    const shardPath = join(folder, file);
    let bytes: Uint8Array;
    try {
      bytes = readBytes(shardPath);
    } catch (e) {
      if (!(e instanceof ModelFormatError)) throw e;
      throw new ModelFormatError(
        shardPath,
        `shard listed in ${indexPath} for ${names.length} tensor(s) cannot be read: ${e.message}`,
        names[0],
        { cause: e },
      );
    }
    const shard = decodeSafetensors(bytes, shardPath).tensors;
    for (const name of names) {
      const t = shard.get(name);
      if (t === undefined) throw new ModelFormatError(shardPath, `listed in ${indexPath} but absent from this shard`, name);
      tensors.set(name, t);
    }
    for (const name of shard.keys()) {
      const mapped = index.weightMap.get(name);
      if (mapped !== file) {
        throw new ModelFormatError(shardPath, `present in this shard, but ${indexPath} maps it to ${mapped === undefined ? "no shard" : mapped}`, name);
      }
    }
    files.push(shardPath);
  }
  return { tensors, files };
}

/** Every tensor the architecture needs, by HF name, with its shape ([out, in] for linear weights). */
export function expectedTensors(config: ModelConfig): ReadonlyMap<string, readonly number[]> {
  const { hiddenSize: h, numAttentionHeads: heads, numKeyValueHeads: kv, headDim: hd, intermediateSize: inter, vocabSize: vocab } = config;
  const out = new Map<string, readonly number[]>();
  out.set("model.embed_tokens.weight", [vocab, h]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    out.set(`${p}.input_layernorm.weight`, [h]);
    const proj: [string, number, number][] = [["q", heads * hd, h], ["k", kv * hd, h], ["v", kv * hd, h], ["o", h, heads * hd]];
    for (const [n, rows, cols] of proj) {
      out.set(`${p}.self_attn.${n}_proj.weight`, [rows, cols]);
      if (config.attentionBias) out.set(`${p}.self_attn.${n}_proj.bias`, [rows]);
    }
    if (config.qkNorm) {
      out.set(`${p}.self_attn.q_norm.weight`, [hd]);
      out.set(`${p}.self_attn.k_norm.weight`, [hd]);
    }
    out.set(`${p}.post_attention_layernorm.weight`, [h]);
    const mlp: [string, number, number][] = [["gate", inter, h], ["up", inter, h], ["down", h, inter]];
    for (const [n, rows, cols] of mlp) {
      out.set(`${p}.mlp.${n}_proj.weight`, [rows, cols]);
      if (config.mlpBias) out.set(`${p}.mlp.${n}_proj.bias`, [rows]);
    }
  }
  out.set("model.norm.weight", [h]);
  if (!config.tieWordEmbeddings) out.set("lm_head.weight", [vocab, h]);
  return out;
}

/** How many tensors expectedTensors returns, counted without naming them: per layer, then the rest. */
export function expectedTensorCount(config: ModelConfig): { readonly total: number; readonly perLayer: number } {
  const perLayer = 1 + 4 * (config.attentionBias ? 2 : 1) + (config.qkNorm ? 2 : 0) + 1 + 3 * (config.mlpBias ? 2 : 1);
  return { total: 2 + (config.tieWordEmbeddings ? 0 : 1) + config.numHiddenLayers * perLayer, perLayer };
}

export function expectedTensorNames(config: ModelConfig): string[] {
  return [...expectedTensors(config).keys()];
}

/**
 * Tensors a checkpoint may hold beyond the expected ones, as transformers tolerates them: with tied embeddings an
 * `lm_head.weight` copy of the embedding's shape, and the `rotary_emb.inv_freq` buffers of old Llama exports.
 */
function tolerated(config: ModelConfig, name: string, shape: readonly number[]): boolean {
  if (name === "lm_head.weight") return config.tieWordEmbeddings && sameShape(shape, [config.vocabSize, config.hiddenSize]);
  return /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/.test(name);
}

/**
 * Checks a checkpoint's tensors against the config: every expected tensor present, with its shape and a float dtype,
 * and nothing unexpected. Throws a ModelFormatError naming the first offending tensor (and counting the others).
 */
export function checkTensors(config: ModelConfig, tensors: ReadonlyMap<string, TensorType>, path = "checkpoint"): void {
  // Whole layers missing (a config that claims more layers than the file holds): say so before naming every tensor.
  const count = expectedTensorCount(config);
  if (count.total - tensors.size >= count.perLayer) {
    throw new ModelFormatError(
      path,
      `config.json implies ${count.total} tensors (num_hidden_layers ${config.numHiddenLayers} × ${count.perLayer}, and ${count.total - config.numHiddenLayers * count.perLayer} more); ` +
        `the weights hold ${tensors.size}`,
    );
  }
  const problems: [string, string][] = [];
  const expected = expectedTensors(config);
  for (const [name, want] of expected) {
    const t = tensors.get(name);
    if (t === undefined) {
      problems.push([name, `missing: ${config.architecture} needs it with shape ${fmt(want)}`]);
    } else if (!sameShape(t.shape, want)) {
      problems.push([name, `shape ${fmt(t.shape)} does not match the shape ${fmt(want)} that config.json implies`]);
    } else if (!isFloat(t.dtype)) {
      problems.push([name, `dtype ${t.dtype} is not a float dtype (f32, bf16, f16)`]);
    }
  }
  for (const [name, t] of tensors) {
    if (!expected.has(name) && !tolerated(config, name, t.shape as readonly number[])) {
      problems.push([name, `unexpected tensor of shape ${fmt(t.shape)}: ${config.architecture} with this config has no such weight`]);
    }
  }
  if (problems.length === 0) return;
  const [first, ...rest] = problems;
  const more = rest.length === 0 ? "" : `; and ${rest.length} more: ${rest.slice(0, 4).map(([n]) => n).join(", ")}${rest.length > 4 ? ", ..." : ""}`;
  throw new ModelFormatError(path, `${first![1]}${more}`, first![0]);
}

function sameShape(a: readonly unknown[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: readonly unknown[]): string {
  return `[${shape.map(String).join(", ")}]`;
}
