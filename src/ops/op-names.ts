// Every op kind Kiln knows, as one `as const` list: rule tables keyed by it are checked for completeness.

export const SOURCE_OPS = ["input", "constant", "full", "arange"] as const;
export const UNARY_OPS = [
  "neg", "abs", "exp", "log", "sqrt", "rsqrt", "sin", "cos", "tanh",
  "sigmoid", "silu", "gelu", "relu", "reciprocal", "logical_not", "cast",
] as const;
export const BINARY_OPS = [
  "add", "sub", "mul", "div", "pow", "maximum", "minimum",
  "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
] as const;
/** Pointwise ops whose value depends on the element's index as well as its inputs. */
export const INDEXED_POINTWISE_OPS = ["where", "triu", "tril"] as const;
export const REDUCTION_OPS = ["sum", "max", "min", "argmax"] as const;
export const MOVEMENT_OPS = ["reshape", "permute", "expand", "slice", "cat"] as const;
export const INDEX_OPS = ["gather", "index_select", "kv_store"] as const;
export const MATMUL_OPS = ["matmul"] as const;
/** Defined by a decomposition into the ops above; kept whole in traced graphs so fused kernels can match them. */
export const COMPOSITE_OPS = ["mean", "softmax", "linear", "embedding", "stack", "rms_norm", "rotary", "paged_attention"] as const;

export const OP_NAMES = [
  ...SOURCE_OPS, ...UNARY_OPS, ...BINARY_OPS, ...INDEXED_POINTWISE_OPS, ...REDUCTION_OPS,
  ...MOVEMENT_OPS, ...INDEX_OPS, ...MATMUL_OPS, ...COMPOSITE_OPS,
] as const;

export type SourceOp = (typeof SOURCE_OPS)[number];
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];
export type IndexedPointwiseOp = (typeof INDEXED_POINTWISE_OPS)[number];
export type ReductionOp = (typeof REDUCTION_OPS)[number];
export type MovementOp = (typeof MOVEMENT_OPS)[number];
export type IndexOp = (typeof INDEX_OPS)[number];
export type CompositeOp = (typeof COMPOSITE_OPS)[number];
export type OpName = (typeof OP_NAMES)[number];

export function isOpName(s: unknown): s is OpName {
  return typeof s === "string" && (OP_NAMES as readonly string[]).includes(s);
}
