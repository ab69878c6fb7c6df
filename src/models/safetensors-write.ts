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

/**
 * A tensor whose bytes are produced only when the writer reaches it, so a file bigger than memory can be written
 * (make-model's random weights). `chunks` is called once, in file order, and must yield exactly the tensor's
 * little-endian bytes.
 */
export interface TensorSource {
  readonly dtype: DType;
  readonly shape: readonly number[];
  chunks(): Iterable<Uint8Array>;
}

export type TensorSourceDict = ReadonlyMap<string, TensorSource> | Readonly<Record<string, TensorSource>>;

/** A file's layout: the padded header followed by each tensor's bytes, in order, produced as they are iterated. */
interface Layout {
  readonly chunks: Iterable<Uint8Array>;
  readonly size: number;
}

function checkName(fn: string, name: string): void {
  if (name === "" || name === "__metadata__") throw new ArgumentError(fn, `invalid tensor name ${JSON.stringify(name)}`);
}

function tensorSource(t: Tensor): TensorSource {
  return {
    dtype: t.dtype,
    shape: t.dims,
    chunks: () => {
      const raw = t.raw();
      return [new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength)];
    },
  };
}

/**
 * Orders tensors by item size (largest first), then by name: every tensor then starts at a multiple of its item
 * size, since the header is padded to 8 bytes. The same dict always gives the same bytes.
 */
function layout(fn: string, sources: [string, TensorSource][], options: WriteSafetensorsOptions): Layout {
  if (endianness() !== "LE") throw new ArgumentError(fn, "safetensors data is little-endian; this platform is big-endian");
  const entries = [...sources];
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
  let offset = 0;
  const sizes: number[] = [];
  for (const [name, t] of entries) {
    checkName(fn, name);
    const n = t.shape.reduce((a, d) => a * d, 1) * ITEM_SIZE[t.dtype];
    Object.defineProperty(header, name, {
      value: { dtype: SAFETENSORS_DTYPE_NAMES[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + n] },
      enumerable: true,
    });
    sizes.push(n);
    offset += n;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  function* chunks(): Generator<Uint8Array> {
    yield head;
    for (const [i, [name, t]] of entries.entries()) {
      let written = 0;
      for (const c of t.chunks()) {
        written += c.length;
        if (written > sizes[i]!) break;
        yield c;
      }
      if (written !== sizes[i]) throw new ArgumentError(fn, `tensor '${name}' gave ${written} bytes, its shape and dtype need ${sizes[i]}`);
    }
  }
  return { chunks: { [Symbol.iterator]: chunks }, size: head.length + offset };
}

function tensorEntries(fn: string, tensors: TensorDict): [string, TensorSource][] {
  return dictEntries(tensors).map(([name, t]) => {
    if (!t.isConcrete) throw new ArgumentError(fn, `tensor '${name}' has no data (a traced tensor?)`);
    return [name, tensorSource(t)];
  });
}

/** The bytes of a safetensors file holding `tensors`, in memory (small files, tests). */
export function encodeSafetensors(tensors: TensorDict, options: WriteSafetensorsOptions = {}): Uint8Array {
  const { chunks, size } = layout("encodeSafetensors", tensorEntries("encodeSafetensors", tensors), options);
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
  writeFileAtomic(path, layout("writeSafetensors", tensorEntries("writeSafetensors", tensors), options).chunks);
}

/**
 * Writes tensors whose bytes are made as the file is written (at most one chunk in memory at a time), in the same
 * layout as writeSafetensors and as atomically. A source yielding the wrong number of bytes is an ArgumentError and
 * leaves no file.
 */
export function writeSafetensorsFromSources(path: string, sources: TensorSourceDict, options: WriteSafetensorsOptions = {}): void {
  const entries = sources instanceof Map ? [...(sources as ReadonlyMap<string, TensorSource>)] : Object.entries(sources as Readonly<Record<string, TensorSource>>);
  writeFileAtomic(path, layout("writeSafetensorsFromSources", entries, options).chunks);
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
