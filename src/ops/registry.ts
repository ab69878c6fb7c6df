// The op registry: one OpDef per op name, complete by construction (a missing op is a type error).
import { COMPOSITE_DEFS } from "./composite.js";
import { INDEX_DEFS } from "./index-ops.js";
import { MATMUL_DEFS } from "./matmul.js";
import { MOVEMENT_DEFS } from "./movement.js";
import type { OpDef } from "./op-def.js";
import type { OpName } from "./op-names.js";
import { BINARY_DEFS, INDEXED_POINTWISE_DEFS, UNARY_DEFS } from "./pointwise.js";
import { REDUCTION_DEFS } from "./reduce.js";
import { SOURCE_DEFS } from "./source.js";

export const OPS: Readonly<Record<OpName, OpDef>> = {
  ...SOURCE_DEFS,
  ...UNARY_DEFS,
  ...BINARY_DEFS,
  ...INDEXED_POINTWISE_DEFS,
  ...REDUCTION_DEFS,
  ...MOVEMENT_DEFS,
  ...INDEX_DEFS,
  ...MATMUL_DEFS,
  ...COMPOSITE_DEFS,
};
