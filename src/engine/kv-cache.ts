// The paged KV cache (vLLM's PagedAttention layout): per layer a K and a V tensor of
// [numBlocks, blockSize, kvHeads, headDim], shared by all sequences through block tables. A
// sequence holds a list of blocks; position p lives at slot blocks[p / blockSize] * blockSize +
// p % blockSize. Blocks are allocated as sequences grow and returned when they finish.
//
// Automatic prefix caching (vLLM's): a full block whose K/V are computed can be registered under
// its hash-chain value (commitBlock); when its last holder releases it, it stays cached
// (evictable, least recently used first) instead of being forgotten, and a later sequence whose
// tokens hash the same takes it (sharePrefix) instead of recomputing it. Blocks are reference
// counted: a block in use is never handed out again, and a shared block is only ever read (only
// full blocks are shared; a sequence writes past its cached prefix only).
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
  /** Prefix caching: the hash-chain values of blocks[0..hashes.length), the full blocks shared or committed so far. */
  readonly hashes: string[] = [];
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
  /** Free blocks among those allocated, holding nothing cached (taken from the end). */
  readonly #free: number[] = [];
  /** Holders of each block (sized to the capacity once: no per-step allocation). */
  readonly #refs: Int32Array;
  /** Prefix caching: each registered block's hash, and the block registered under each hash. */
  readonly #hashOf: (string | undefined)[];
  readonly #byHash = new Map<string, number>();
  /** Registered blocks nobody holds, least recently released first (a Map keeps insertion order: O(1) moves). */
  readonly #evictable = new Map<number, true>();

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
    this.#refs = new Int32Array(this.numBlocks);
    this.#hashOf = new Array<string | undefined>(this.numBlocks).fill(undefined);
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

  /** Blocks free to reserve: free allocated ones, the capacity not allocated yet, and cached blocks nobody holds (evictable). */
  get freeBlocks(): number {
    return this.#free.length + (this.numBlocks - this.#allocated) + this.#evictable.size;
  }

  /** Blocks some sequence holds now. */
  get usedBlocks(): number {
    return this.#allocated - this.#free.length - this.#evictable.size;
  }

  /** Blocks nobody holds that keep cached K/V for prefix caching (evicted as space is needed). */
  get cachedBlocks(): number {
    return this.#evictable.size;
  }

  /** Blocks needed to hold `tokens` positions. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  /**
   * Grows `seq` to hold positions [0, tokens). Free blocks go first (allocating more memory within the capacity),
   * then cached ones nobody holds, least recently used first.
   */
  reserve(seq: SequenceBlocks, tokens: number): void {
    const need = this.blocksFor(tokens) - seq.blocks.length;
    if (need <= 0) return;
    if (need > this.freeBlocks) throw new KvCacheFullError(need, this.freeBlocks, this.blockSize, this.capacity);
    const fresh = this.#free.length + (this.numBlocks - this.#allocated);
    if (need > this.#free.length && fresh > this.#free.length) this.#grow(Math.min(need, fresh) - this.#free.length);
    for (let i = 0; i < need; i++) {
      const b = this.#free.pop() ?? this.#evict();
      this.#refs[b] = 1;
      seq.blocks.push(b);
    }
  }

  /** Drops the least recently used cached block's hash and hands the block out. */
  #evict(): number {
    const b = this.#evictable.keys().next().value as number;
    this.#evictable.delete(b);
    this.#byHash.delete(this.#hashOf[b]!);
    this.#hashOf[b] = undefined;
    return b;
  }

  /**
   * Gives back `seq`'s blocks. A block nobody else holds is freed, or, when it is registered (commitBlock), kept
   * cached; the sequence's last blocks are queued for eviction first (they hash more tokens: less likely reused).
   */
  release(seq: SequenceBlocks): void {
    for (let i = seq.blocks.length - 1; i >= 0; i--) {
      const b = seq.blocks[i]!;
      if (--this.#refs[b]! > 0) continue;
      if (this.#hashOf[b] !== undefined) this.#evictable.set(b, true);
      else this.#free.push(b);
    }
    seq.blocks.length = 0;
    seq.hashes.length = 0;
  }

  /**
   * Prefix caching: `seq` (holding nothing yet) takes the longest run of registered blocks named by `hashes` (at most
   * `limit` of them); returns how many. Each taken block gains a holder and leaves the eviction queue.
   */
  sharePrefix(seq: SequenceBlocks, hashes: readonly string[], limit = hashes.length): number {
    if (seq.blocks.length > 0) throw new ArgumentError("kv cache", "sharePrefix: the sequence already holds blocks");
    const n = Math.min(limit, hashes.length);
    for (let i = 0; i < n; i++) {
      const b = this.#byHash.get(hashes[i]!);
      if (b === undefined) break;
      if (this.#refs[b]++ === 0) this.#evictable.delete(b);
      seq.blocks.push(b);
      seq.hashes.push(hashes[i]!);
    }
    return seq.blocks.length;
  }

  /**
   * Prefix caching: `seq`'s next full block (blocks[hashes.length]), whose K/V are now all computed, is named by `hash`
   * (the chain value of its tokens). It is registered for sharing unless a block with that hash already is (two
   * sequences computed the same tokens at once): then it stays private and is freed as usual.
   */
  commitBlock(seq: SequenceBlocks, hash: string): void {
    const b = seq.blocks[seq.hashes.length];
    if (b === undefined) throw new ArgumentError("kv cache", "commitBlock: the sequence holds no block to commit");
    seq.hashes.push(hash);
    if (this.#byHash.has(hash) || this.#hashOf[b] !== undefined) return;
    this.#byHash.set(hash, b);
    this.#hashOf[b] = hash;
  }

  /** Holders of block `b` (tests and assertions). */
  holders(b: number): number {
    return this.#refs[b] ?? 0;
  }
}

/** One sequence's part of a forward: its blocks, the new tokens and the position of the first. */
export interface BatchEntry {
  readonly blocks: SequenceBlocks;
  readonly tokens: readonly number[];
  readonly start: number;
  /** False: no logits row for this entry (a prefill chunk that ends before its prompt does); default true. */
  readonly logits?: boolean;
}

/**
 * The paged forward's inputs after the caches are reserved: ids, then positions, seqIds, slots,
 * blockTable, logitRows (the last new token of each entry that wants logits, in entry order; the batch's last
 * token when none does, as the forward returns at least one row), then the caches.
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
    if (e.logits !== false) logitRows.push(ids.length - 1);
  });
  if (logitRows.length === 0) logitRows.push(ids.length - 1);
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
