// The paged KV cache (vLLM's PagedAttention layout): per layer a K and a V tensor of
// [numBlocks, blockSize, kvHeads, headDim], shared by all sequences through block tables. A
// sequence holds a list of blocks; position p lives at slot blocks[p / blockSize] * blockSize +
// p % blockSize. Blocks are allocated as sequences grow and returned when they finish.
import { totalmem } from "node:os";
import { type DType, ITEM_SIZE, Tensor, allocStorage, tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";

export interface KvCacheShape {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

export interface KvCacheOptions {
  /** Tokens the cache holds in all (rounded up to whole blocks); default 4096. */
  readonly tokens?: number;
  /** Tokens per block; default 16 (vLLM's default). */
  readonly blockSize?: number;
  readonly dtype?: DType;
}

/** Thrown when a request needs more blocks than are free: says how many tokens the cache holds. */
export class KvCacheFullError extends ArgumentError {
  constructor(needed: number, free: number, blockSize: number, capacity: number) {
    super(
      "kv cache",
      `the request needs ${needed} KV cache blocks of ${blockSize} tokens, the cache has ${free} free (${capacity} tokens in all); ` +
        "nothing was truncated: give it more tokens (kvCacheTokens / --kv-cache-tokens) or generate fewer",
    );
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** One sequence's blocks. */
export class SequenceBlocks {
  readonly blocks: number[] = [];
  slot(position: number, blockSize: number): number {
    return this.blocks[Math.floor(position / blockSize)]! * blockSize + (position % blockSize);
  }
}

/** The fewest blocks the cache allocates at once (64 tokens of 16): small requests stay small. */
const MIN_ALLOCATED_BLOCKS = 4;

/**
 * The cache's memory is allocated as requests need it, up to `numBlocks`: it doubles when a reservation finds no
 * free block (copying what it holds; the block count is a dynamic dim of the compiled forward), so a process that
 * serves short requests never pays for — nor the garbage collector scans past — a cache sized for the longest.
 */
export class PagedKvCache {
  readonly blockSize: number;
  /** The most blocks the cache may hold (its capacity). */
  readonly numBlocks: number;
  readonly #dims: readonly number[];
  readonly #dtype: DType;
  readonly #count: number;
  /** The error for an allocation the machine cannot make, naming the size asked for. */
  readonly #tooBig: (why: string) => Error;
  #allocated = 0;
  #tensors: Tensor[] = [];
  /** Free blocks among those allocated. */
  readonly #free: number[] = [];

  constructor(shape: KvCacheShape, options: KvCacheOptions = {}) {
    this.blockSize = options.blockSize ?? 16;
    const tokens = options.tokens ?? 4096;
    if (!(Number.isInteger(this.blockSize) && this.blockSize > 0)) throw new ArgumentError("kv cache", `blockSize must be a positive integer, got ${this.blockSize}`);
    if (!(Number.isInteger(tokens) && tokens > 0)) throw new ArgumentError("kv cache", `tokens must be a positive integer, got ${tokens}`);
    this.numBlocks = Math.ceil(tokens / this.blockSize);
    const dims = [this.numBlocks, this.blockSize, shape.kvHeads, shape.headDim];
    const dtype = options.dtype ?? "f32";
    const size = dims.reduce((a, b) => a * b, 1);
    const bytes = 2 * shape.layers * size * ITEM_SIZE[dtype];
    const tooBig = (why: string) =>
      new ArgumentError("kv cache", `${tokens} tokens need ${gib(bytes)} (K and V of ${shape.layers} layers × ${shape.kvHeads} heads × ${shape.headDim} × ${ITEM_SIZE[dtype]} bytes a token): ${why}; give it fewer tokens (kvCacheTokens / --kv-cache-tokens)`);
    if (bytes > totalmem()) throw tooBig(`more than this machine's ${gib(totalmem())} of memory`);
    this.#dims = dims.slice(1);
    this.#dtype = dtype;
    this.#count = 2 * shape.layers;
    this.#tooBig = tooBig;
  }

  /** k0, v0, k1, v1, …: the order CausalLM's paged forward takes them ([allocated blocks, blockSize, kvHeads, headDim]). */
  get tensors(): readonly Tensor[] {
    if (this.#allocated === 0) this.#grow(MIN_ALLOCATED_BLOCKS);
    return this.#tensors;
  }

  /** Blocks whose memory is allocated now (at most numBlocks). */
  get allocatedBlocks(): number {
    return this.#allocated;
  }

  /** Allocates at least `extra` more blocks (doubling, within the capacity), keeping what the cache holds. */
  #grow(extra: number): void {
    const before = this.#allocated;
    const after = Math.min(this.numBlocks, Math.max(before + extra, 2 * before, MIN_ALLOCATED_BLOCKS));
    const dims = [after, ...this.#dims];
    const size = dims.reduce((a, b) => a * b, 1);
    try {
      this.#tensors = Array.from({ length: this.#count }, (_, i) => {
        const storage = allocStorage(this.#dtype, size);
        if (before > 0) (storage as Uint8Array).set(this.#tensors[i]!.storage as Uint8Array);
        return new Tensor(this.#dtype, dims, storage);
      });
    } catch (e) {
      if (e instanceof RangeError) throw this.#tooBig(`cannot allocate (${e.message})`);
      throw e;
    }
    // Blocks pop from the end: free ones first, then the new ones, lowest first.
    for (let b = before; b < after; b++) this.#free.unshift(b);
    this.#allocated = after;
  }

  get capacity(): number {
    return this.numBlocks * this.blockSize;
  }

  /** Blocks free to reserve: free allocated ones and the capacity not allocated yet. */
  get freeBlocks(): number {
    return this.#free.length + (this.numBlocks - this.#allocated);
  }

  /** Blocks needed to hold `tokens` positions. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  /** Grows `seq` to hold positions [0, tokens). */
  reserve(seq: SequenceBlocks, tokens: number): void {
    const need = this.blocksFor(tokens) - seq.blocks.length;
    if (need <= 0) return;
    if (need > this.freeBlocks) throw new KvCacheFullError(need, this.freeBlocks, this.blockSize, this.capacity);
    if (need > this.#free.length) this.#grow(need - this.#free.length);
    for (let i = 0; i < need; i++) seq.blocks.push(this.#free.pop()!);
  }

  release(seq: SequenceBlocks): void {
    this.#free.push(...seq.blocks.reverse());
    seq.blocks.length = 0;
  }
}

/** One sequence's part of a forward: its blocks, the new tokens and the position of the first. */
export interface BatchEntry {
  readonly blocks: SequenceBlocks;
  readonly tokens: readonly number[];
  readonly start: number;
}

/**
 * The paged forward's inputs after the caches are reserved: ids, then positions, seqIds, slots,
 * blockTable, logitRows (the last new token of each entry), then the caches.
 */
export function batchInputs(cache: PagedKvCache, entries: readonly BatchEntry[]): Tensor[] {
  const ids: number[] = [];
  const positions: number[] = [];
  const seqIds: number[] = [];
  const slots: number[] = [];
  const logitRows: number[] = [];
  entries.forEach((e, i) => {
    e.tokens.forEach((t, j) => {
      ids.push(t);
      positions.push(e.start + j);
      seqIds.push(i);
      slots.push(e.blocks.slot(e.start + j, cache.blockSize));
    });
    logitRows.push(ids.length - 1);
  });
  // Rows are padded with block 0 (any valid block: attention never reads past a token's position).
  const width = Math.max(1, ...entries.map((e) => e.blocks.blocks.length));
  const table = new Int32Array(entries.length * width);
  entries.forEach((e, i) => table.set(e.blocks.blocks, i * width));
  const i32 = (xs: number[]) => tensor(xs, { dtype: "i32" });
  return [
    i32(ids), i32(positions), i32(seqIds), i32(slots), tensor(table, { dtype: "i32", shape: [entries.length, width] }), i32(logitRows),
    ...cache.tensors,
  ];
}
