// Tensor: a dtype, a shape and strided views over typed-array storage.
import { ArgumentError, InternalError, ShapeError } from "../util/index.js";
import { type DType, type Storage, allocStorage, parseDType } from "./dtype.js";
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16 } from "./half.js";
import { type Shape, isStaticShape, shapeToString } from "./sym.js";
import type { TensorType } from "./tensor-type.js";

/** Element values as JS numbers: f32 for all float dtypes, f64 for i64, bytes for bool. */
export type NumArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * Zeroed storage allocated when first read or written: the parameters of a model built to be loaded (init "empty")
 * cost no memory — and no garbage-collector pressure — until something uses them, which loaded weights never do.
 * Tensors wrapping the same DeferredStorage share the one allocation.
 */
export class DeferredStorage {
  #storage: Storage | undefined;
  constructor(
    readonly dtype: DType,
    readonly length: number,
  ) {}
  get storage(): Storage {
    return (this.#storage ??= allocStorage(this.dtype, this.length));
  }
}

export class Tensor implements TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  #storage: Storage | DeferredStorage | null;

  /** `storage === null` is an abstract tensor (a tracer); subclasses say why data is unavailable. */
  constructor(dtype: DType, shape: Shape, storage: Storage | DeferredStorage | null, strides?: readonly number[], offset = 0) {
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.#storage = storage;
    if (storage !== null) {
      if (!isStaticShape(shape)) throw new InternalError(`concrete tensor with symbolic shape ${shapeToString(shape)}`);
      for (const d of shape) {
        if (!Number.isInteger(d) || d < 0) throw new ShapeError("tensor", "non-negative integer dims", shape);
      }
      this.strides = Object.freeze(strides ? [...strides] : contiguousStrides(shape));
      if (!strides && product(shape) > storage.length - offset) {
        throw new ShapeError("tensor", `at most ${storage.length - offset} elements`, shape);
      }
    } else {
      this.strides = Object.freeze([]);
    }
    this.offset = offset;
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Throws when the tensor has no data; tracer tensors override this with a TraceError naming the user's line. */
  protected requireConcrete(what: string): Storage {
    if (this.#storage === null) throw new InternalError(`${what} on a tensor without data`);
    if (this.#storage instanceof DeferredStorage) this.#storage = this.#storage.storage;
    return this.#storage;
  }

  /** The storage as held, a DeferredStorage not yet allocated (for a tensor that wraps this one's data). */
  get heldStorage(): Storage | DeferredStorage {
    if (this.#storage === null) return this.requireConcrete("storage");
    return this.#storage;
  }

  get storage(): Storage {
    return this.requireConcrete("storage");
  }
  get isConcrete(): boolean {
    return this.#storage !== null;
  }
  /** The static shape of a concrete tensor. */
  get dims(): readonly number[] {
    if (this.#storage === null) this.requireConcrete("dims"); // never allocates a deferred storage
    return this.shape as readonly number[];
  }
  get size(): number {
    return product(this.dims);
  }

  /** Shape and strides never change, so neither does this: computed once (every compiled call asks it of every input). */
  #contiguous: boolean | undefined;
  isContiguous(): boolean {
    if (this.#contiguous === undefined) {
      const want = contiguousStrides(this.dims);
      this.#contiguous = this.dims.every((d, i) => d <= 1 || this.strides[i] === want[i]);
    }
    return this.#contiguous;
  }

  /** A strided view sharing this tensor's storage (torch's as_strided); `view(shape)` is the reshape method. */
  asStrided(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.dtype, shape, this.#storage === null ? this.requireConcrete("asStrided") : this.#storage, strides, offset);
  }

  /** Raw storage elements in row-major order (copied only when this is a strided view). */
  raw(): Storage {
    const st = this.requireConcrete("raw");
    const n = this.size;
    if (this.isContiguous()) return st.subarray(this.offset, this.offset + n) as Storage;
    const out = allocStorage(this.dtype, n) as Storage & { [i: number]: number | bigint };
    const src = st as unknown as { [i: number]: number | bigint };
    forEachStridedOffset(this.dims, this.strides, this.offset, (o, i) => {
      out[i] = src[o]!;
    });
    return out;
  }

  contiguous(): Tensor {
    if (this.isContiguous() && this.offset === 0) return this;
    return new Tensor(this.dtype, this.dims, this.raw());
  }

  /** Element values as numbers, contiguous: float dtypes decode to f32, i64 to f64. */
  values(): NumArray {
    this.requireConcrete("values()");
    const r = this.raw();
    switch (this.dtype) {
      case "f32":
        return r as Float32Array;
      case "bf16":
        return bf16ArrayToF32(r as Uint16Array);
      case "f16":
        return f16ArrayToF32(r as Uint16Array);
      case "i32":
        return r as Int32Array;
      case "i64":
        return Float64Array.from(r as BigInt64Array, Number);
      case "bool":
        return r as Uint8Array;
      default:
        return this.dtype satisfies never;
    }
  }

  /** Builds a contiguous tensor from numbers, rounding to the dtype (RNE for bf16/f16, truncation for ints). */
  static fromValues(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor(dtype, shape, encodeValues(dtype, values));
  }

  toFlatArray(): number[] {
    return Array.from(this.values());
  }

  /** Nested JS arrays, like torch's tolist(); bool elements are booleans. */
  toArray(): unknown {
    this.requireConcrete("toArray()");
    const flat = this.values();
    const dims = this.dims;
    const asBool = this.dtype === "bool";
    let i = 0;
    const build = (axis: number): unknown => {
      if (axis === dims.length) {
        const v = flat[i++]!;
        return asBool ? v !== 0 : v;
      }
      return Array.from({ length: dims[axis]! }, () => build(axis + 1));
    };
    return build(0);
  }

  item(): number {
    this.requireConcrete("item()");
    const n = this.size;
    if (n !== 1) throw new ShapeError("item", "a tensor with one element", this.dims);
    return this.values()[0]!;
  }

  /**
   * `t > 0`, `+t`, `t == 1`: a one-element tensor converts to its value (as torch's float(t)); any
   * other size is an error rather than JS's silent object comparison. Strings get toString().
   */
  [Symbol.toPrimitive](hint: string): string | number {
    if (hint === "string") return this.toString();
    if (this.isConcrete && this.size !== 1) {
      throw new ShapeError("Tensor to number", "a tensor with exactly one element (use item(), or reduce first)", this.shape);
    }
    return this.item();
  }

  toString(): string {
    return `Tensor(${this.dtype}${shapeToString(this.shape)})`;
  }
}

export function encodeValues(dtype: DType, values: ArrayLike<number>): Storage {
  switch (dtype) {
    case "f32":
      return Float32Array.from(values);
    case "bf16":
      return f32ArrayToBf16(values);
    case "f16":
      return f32ArrayToF16(values);
    case "i32": {
      const out = new Int32Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = Math.trunc(values[i]!);
      return out;
    }
    case "i64": {
      // Like i32's ToInt32: truncate, wrap modulo 2^64, and NaN/±Infinity become 0 (BigInt() would throw).
      const out = new BigInt64Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        out[i] = Number.isFinite(v) ? BigInt.asIntN(64, BigInt(Math.trunc(v))) : 0n;
      }
      return out;
    }
    case "bool": {
      // Non-zero is true, NaN included (as in torch and C).
      const out = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = values[i] !== 0 ? 1 : 0;
      return out;
    }
    default:
      return dtype satisfies never;
  }
}

/** Calls `fn(storageOffset, flatIndex)` for every element of a strided view, in row-major order. */
export function forEachStridedOffset(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  fn: (storageOffset: number, flatIndex: number) => void,
): void {
  const rank = shape.length;
  const n = product(shape);
  if (n === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let o = offset;
  for (let i = 0; i < n; i++) {
    fn(o, i);
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]!++;
      o += strides[a]!;
      if (idx[a]! < shape[a]!) break;
      o -= strides[a]! * shape[a]!;
      idx[a] = 0;
    }
  }
}

type Nested = number | boolean | bigint | readonly Nested[];
export type TensorData = Nested | ArrayLike<number> | BigInt64Array;

export interface TensorOptions {
  dtype?: DType;
  shape?: readonly number[];
}

/** Creates a tensor from nested arrays, a flat array or a typed array; `shape` reshapes flat data. */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  const dtype = options.dtype === undefined ? inferDType(data) : parseDType(options.dtype, "tensor");
  let flat: number[];
  let shape: number[];
  if (ArrayBuffer.isView(data)) {
    flat = Array.from(data as ArrayLike<number | bigint>, Number);
    shape = [flat.length];
  } else {
    shape = [];
    flat = [];
    flattenNested(data as Nested, 0, { shape, leafDepth: -1 }, flat);
  }
  if (options.shape) {
    const n = product(options.shape);
    if (n !== flat.length) throw new ShapeError("tensor", `${flat.length} elements to match shape`, options.shape, `${n} elements`);
    shape = [...options.shape];
  }
  return Tensor.fromValues(dtype, shape, flat);
}

function inferDType(data: TensorData): DType {
  if (data instanceof Int32Array) return "i32";
  if (data instanceof BigInt64Array) return "i64";
  if (data instanceof Uint8Array) return "bool";
  let x: unknown = data;
  while (Array.isArray(x)) x = x[0];
  return typeof x === "boolean" ? "bool" : typeof x === "bigint" ? "i64" : "f32";
}

/** `leafDepth` is the depth of the first number seen: every number must sit there, and no array may. */
function flattenNested(x: Nested, depth: number, st: { shape: number[]; leafDepth: number }, out: number[]): void {
  const shape = st.shape;
  if (Array.isArray(x)) {
    if (st.leafDepth >= 0 && depth >= st.leafDepth) throw new ShapeError("tensor", `a rectangular array (a number at depth ${depth})`, "an array");
    if (shape.length === depth) shape.push(x.length);
    else if (shape[depth] !== x.length) throw new ShapeError("tensor", `a rectangular array (length ${shape[depth]} at depth ${depth})`, x.length);
    for (const e of x) flattenNested(e as Nested, depth + 1, st, out);
    return;
  }
  if (shape.length !== depth) throw new ShapeError("tensor", `a rectangular array (an array at depth ${depth})`, typeof x);
  st.leafDepth = depth;
  if (typeof x === "number" || typeof x === "boolean" || typeof x === "bigint") out.push(Number(x));
  else throw new ArgumentError("tensor", `element ${String(x)} is not a number`);
}

/** A small, fast PRNG (mulberry32) so randn is identical across runs and machines. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandnOptions {
  seed?: number;
  dtype?: DType;
  std?: number;
  mean?: number;
}

/** Normal samples (Box–Muller) from a seeded PRNG: the same seed gives the same tensor everywhere. */
export function randn(shape: readonly number[], options: RandnOptions = {}): Tensor {
  const { seed = 0, dtype = "f32", std = 1, mean = 0 } = options;
  const n = product(shape);
  const rand = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - rand();
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return Tensor.fromValues(parseDType(dtype, "randn"), shape, out);
}
