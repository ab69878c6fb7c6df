// OpDef: what the registry knows of one op — its schema, shape/dtype rule, reference kernel or decomposition.
import type { Dim, Tensor, TensorType } from "../tensor/index.js";
import type { OpName } from "./op-names.js";

/** Attribute values are JSON-like, with symbolic dims allowed anywhere a number is. */
export type AttrValue = number | string | boolean | null | Dim | readonly AttrValue[];
export type Attrs = Readonly<Record<string, AttrValue>>;

export type OpCategory = "source" | "pointwise" | "reduction" | "movement" | "index" | "matmul" | "composite";

export interface OpDef {
  readonly name: OpName;
  readonly category: OpCategory;
  /** Number of tensor inputs: exact, or [min, max] (max Infinity for variadic ops such as cat). */
  readonly arity: number | readonly [number, number];
  /** Attribute names and a one-word type each, for docs and for validation at the boundary. */
  readonly attrs: Readonly<Record<string, string>>;
  /** The shape/dtype rule: works on symbolic dims; throws ShapeError/DTypeError on bad input. */
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType;
  /** The reference kernel, in plain TS, on concrete tensors. Absent for composites and `input`. */
  ref?(inputs: readonly Tensor[], attrs: Attrs, out: TensorType): Tensor;
  /** The input this op writes in place and returns (kv_store): passes keep such nodes whole and in order. */
  readonly mutates?: number;
  /** Composites the code generator runs as a kernel template: the decompose pass keeps them whole (their decomposition is the reference). */
  readonly keepWhole?: boolean;
  /** Composites only: the definition in other ops, each applied through `call` (the current interpreter). */
  decompose?(inputs: readonly Tensor[], attrs: Attrs, call: OpCaller): Tensor;
}

/** Applies an op by name under whatever interpreter is current. */
export type OpCaller = (name: OpName, inputs: readonly Tensor[], attrs?: Attrs) => Tensor;
