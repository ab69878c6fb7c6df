// DType: the element types Kiln knows, their storage arrays and the promotion rule.
import { DTypeError } from "../util/index.js";

export const DTYPES = ["f32", "bf16", "f16", "i32", "i64", "bool"] as const;
export type DType = (typeof DTYPES)[number];

/** bf16 and f16 are stored as raw 16-bit words; i64 as BigInt64Array. */
export interface StorageOf {
  f32: Float32Array;
  bf16: Uint16Array;
  f16: Uint16Array;
  i32: Int32Array;
  i64: BigInt64Array;
  bool: Uint8Array;
}
export type Storage = StorageOf[DType];

export const ITEM_SIZE: Readonly<Record<DType, number>> = { f32: 4, bf16: 2, f16: 2, i32: 4, i64: 8, bool: 1 };

export function isFloat(d: DType): boolean {
  return d === "f32" || d === "bf16" || d === "f16";
}

export function isDType(s: unknown): s is DType {
  return typeof s === "string" && (DTYPES as readonly string[]).includes(s);
}

/** Validates a user-supplied dtype name. */
export function parseDType(s: unknown, where = "dtype"): DType {
  if (!isDType(s)) throw new DTypeError(where, DTYPES.join("|"), s);
  return s;
}

export function allocStorage(dtype: DType, n: number): Storage {
  switch (dtype) {
    case "f32":
      return new Float32Array(n);
    case "bf16":
    case "f16":
      return new Uint16Array(n);
    case "i32":
      return new Int32Array(n);
    case "i64":
      return new BigInt64Array(n);
    case "bool":
      return new Uint8Array(n);
    default:
      return dtype satisfies never;
  }
}

const RANK: Readonly<Record<DType, number>> = { bool: 0, i32: 1, i64: 2, f16: 3, bf16: 3, f32: 4 };

/** Result dtype of a binary op, as torch does for tensors: float beats int, wider beats narrower; bf16+f16 → f32. */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if ((a === "bf16" && b === "f16") || (a === "f16" && b === "bf16")) return "f32";
  return RANK[a] >= RANK[b] ? a : b;
}
