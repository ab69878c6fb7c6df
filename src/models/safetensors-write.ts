// Safetensors writer: a dict of Tensors to one file, in a deterministic layout, written atomically.
import { endianness } from "node:os";
import { basename, dirname, join } from "node:path";
import { type DType, ITEM_SIZE, type Tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";
import { writeFileAtomic } from "../cache/index.js";

/** The safetensors name of each Kiln dtype. */
export const SAFETENSORS_DTYPE_NAMES: Readonly<Record<DType, string>> = Object.freeze({
  f32: "F32",
  bf16: "BF16",
  f16: "F16",
  i32: "I32",
  i64: "I64",
  bool: "BOOL",
});

export type TensorDict = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

export interface WriteSafetensorsOptions {
  /** The `__metadata__` string map (transformers writes `{ format: "pt" }`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

function dictEntries(tensors: TensorDict): [string, Tensor][] {
  return tensors instanceof Map ? [...(tensors as ReadonlyMap<string, Tensor>).entries()] : Object.entries(tensors as Readonly<Record<string, Tensor>>);
}

/** A file's layout: the padded header followed by each tensor's bytes, in order. */
interface Layout {
  readonly chunks: readonly Uint8Array[];
  readonly size: number;
}

/**
 * Orders tensors by item size (largest first), then by name: every tensor then starts at a multiple of its item
 * size, since the header is padded to 8 bytes. The same dict always gives the same bytes.
 */
function layout(tensors: TensorDict, options: WriteSafetensorsOptions): Layout {
  const fn = "writeSafetensors";
  if (endianness() !== "LE") throw new ArgumentError(fn, "safetensors data is little-endian; this platform is big-endian");
  const entries = dictEntries(tensors);
  for (const [name, t] of entries) {
    if (name === "" || name === "__metadata__") throw new ArgumentError(fn, `invalid tensor name ${JSON.stringify(name)}`);
    if (!t.isConcrete) throw new ArgumentError(fn, `tensor '${name}' has no data (a traced tensor?)`);
  }
  entries.sort(([a, ta], [b, tb]) => ITEM_SIZE[tb.dtype] - ITEM_SIZE[ta.dtype] || (a < b ? -1 : a > b ? 1 : 0));

  const header: Record<string, unknown> = {};
  const meta = options.metadata;
  if (meta !== undefined) {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(meta).sort()) {
      if (typeof meta[k] !== "string") throw new ArgumentError(fn, `metadata ${k} must be a string`);
      sorted[k] = meta[k]!;
    }
    header.__metadata__ = sorted;
  }
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const raw = t.raw();
    const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    Object.defineProperty(header, name, {
      value: { dtype: SAFETENSORS_DTYPE_NAMES[t.dtype], shape: [...t.dims], data_offsets: [offset, offset + bytes.length] },
      enumerable: true,
    });
    data.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  return { chunks: [head, ...data], size: head.length + offset };
}

/** The bytes of a safetensors file holding `tensors`, in memory (small files, tests). */
export function encodeSafetensors(tensors: TensorDict, options: WriteSafetensorsOptions = {}): Uint8Array {
  const { chunks, size } = layout(tensors, options);
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/**
 * Writes `tensors` to `path` atomically: streamed to a temp file in the same folder, fsynced, then renamed over
 * `path`. A reader sees the old file or the whole new one; the tensors are never concatenated in memory.
 */
export function writeSafetensors(path: string, tensors: TensorDict, options: WriteSafetensorsOptions = {}): void {
  writeFileAtomic(path, layout(tensors, options).chunks);
}

export interface WriteShardedOptions extends WriteSafetensorsOptions {
  /** A shard is closed before it would grow past this many bytes of tensor data (a bigger tensor gets its own). */
  readonly maxShardBytes: number;
}

/**
 * Writes `tensors` into `dir` the way transformers shards a checkpoint: `model-0000i-of-0000n.safetensors` files
 * (tensors in name order) and `model.safetensors.index.json` with `metadata.total_size` and the `weight_map`.
 * Returns the shard file names. Each file is written atomically, the index last.
 */
export function writeShardedSafetensors(dir: string, tensors: TensorDict, options: WriteShardedOptions): string[] {
  const { maxShardBytes } = options;
  if (!(maxShardBytes > 0)) throw new ArgumentError("writeShardedSafetensors", `maxShardBytes must be positive, got ${maxShardBytes}`);
  const entries = dictEntries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const shards: Map<string, Tensor>[] = [];
  let current = new Map<string, Tensor>();
  let bytes = 0;
  let total = 0;
  for (const [name, t] of entries) {
    if (!t.isConcrete) throw new ArgumentError("writeShardedSafetensors", `tensor '${name}' has no data (a traced tensor?)`);
    const n = t.size * ITEM_SIZE[t.dtype];
    if (current.size > 0 && bytes + n > maxShardBytes) {
      shards.push(current);
      current = new Map();
      bytes = 0;
    }
    current.set(name, t);
    bytes += n;
    total += n;
  }
  if (current.size > 0 || shards.length === 0) shards.push(current);

  const width = 5;
  const files = shards.map((_, i) => `model-${String(i + 1).padStart(width, "0")}-of-${String(shards.length).padStart(width, "0")}.safetensors`);
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    writeSafetensors(join(dir, files[i]!), shard, options);
    for (const name of shard.keys()) Object.defineProperty(weightMap, name, { value: files[i]!, enumerable: true });
  });
  const index = { metadata: { total_size: total }, weight_map: weightMap };
  const text = Buffer.from(JSON.stringify(index, null, 2) + "\n", "utf8");
  writeFileAtomic(join(dir, "model.safetensors.index.json"), [text]);
  return files;
}
