// Tensor methods: torch-style method forms (`x.add(y).reshape([s, 16, 64]).transpose(1, 2)`) on Tensor.prototype, each a call of the functional API.
import type { DType, Dim } from "../tensor/index.js";
import { Tensor } from "../tensor/index.js";
import * as api from "./api.js";
import type { TensorOrScalar } from "./api.js";

/** The method forms; each does exactly what the functional API function of the same name does (so it traces too). */
export interface TensorMethods {
  add(other: TensorOrScalar): Tensor;
  sub(other: TensorOrScalar): Tensor;
  mul(other: TensorOrScalar): Tensor;
  div(other: TensorOrScalar): Tensor;
  pow(exponent: TensorOrScalar): Tensor;
  maximum(other: TensorOrScalar): Tensor;
  minimum(other: TensorOrScalar): Tensor;
  eq(other: TensorOrScalar): Tensor;
  ne(other: TensorOrScalar): Tensor;
  lt(other: TensorOrScalar): Tensor;
  le(other: TensorOrScalar): Tensor;
  gt(other: TensorOrScalar): Tensor;
  ge(other: TensorOrScalar): Tensor;
  logicalAnd(other: TensorOrScalar): Tensor;
  logicalOr(other: TensorOrScalar): Tensor;

  neg(): Tensor;
  abs(): Tensor;
  exp(): Tensor;
  log(): Tensor;
  sqrt(): Tensor;
  rsqrt(): Tensor;
  sin(): Tensor;
  cos(): Tensor;
  tanh(): Tensor;
  sigmoid(): Tensor;
  silu(): Tensor;
  relu(): Tensor;
  reciprocal(): Tensor;
  logicalNot(): Tensor;
  gelu(approximate?: "none" | "tanh"): Tensor;
  cast(dtype: DType): Tensor;

  /** `axis` omitted reduces over every element. */
  sum(axis?: number, keepdim?: boolean): Tensor;
  mean(axis?: number, keepdim?: boolean): Tensor;
  max(axis?: number, keepdim?: boolean): Tensor;
  min(axis?: number, keepdim?: boolean): Tensor;
  argmax(axis?: number, keepdim?: boolean): Tensor;
  softmax(axis?: number): Tensor;
  matmul(other: Tensor): Tensor;

  /** The target shape as one array or as separate dims; one dim may be -1. */
  reshape(shape: readonly Dim[]): Tensor;
  reshape(...shape: Dim[]): Tensor;
  view(shape: readonly Dim[]): Tensor;
  view(...shape: Dim[]): Tensor;
  permute(perm: readonly number[]): Tensor;
  permute(...perm: number[]): Tensor;
  /** Swaps two axes (the last two by default). */
  transpose(a?: number, b?: number): Tensor;
  expand(shape: readonly Dim[]): Tensor;
  expand(...shape: Dim[]): Tensor;
  slice(axis: number, start?: Dim | null, end?: Dim | null, step?: number): Tensor;
  unsqueeze(axis: number): Tensor;
  /** Drops `axis` (which must have size 1), or every static size-1 axis when `axis` is omitted. */
  squeeze(axis?: number): Tensor;
  triu(k?: number): Tensor;
  tril(k?: number): Tensor;
  gather(axis: number, index: Tensor): Tensor;
  indexSelect(axis: number, index: Tensor): Tensor;
}

declare module "../tensor/tensor.js" {
  interface Tensor extends TensorMethods {}
}

/** A shape given as one array or as separate arguments. */
function dimsOf(args: readonly unknown[]): Dim[] {
  return Array.isArray(args[0]) ? [...(args[0] as readonly Dim[])] : (args as Dim[]);
}

const METHODS: TensorMethods & ThisType<Tensor> = {
  add(o) { return api.add(this, o); },
  sub(o) { return api.sub(this, o); },
  mul(o) { return api.mul(this, o); },
  div(o) { return api.div(this, o); },
  pow(o) { return api.pow(this, o); },
  maximum(o) { return api.maximum(this, o); },
  minimum(o) { return api.minimum(this, o); },
  eq(o) { return api.eq(this, o); },
  ne(o) { return api.ne(this, o); },
  lt(o) { return api.lt(this, o); },
  le(o) { return api.le(this, o); },
  gt(o) { return api.gt(this, o); },
  ge(o) { return api.ge(this, o); },
  logicalAnd(o) { return api.logicalAnd(this, o); },
  logicalOr(o) { return api.logicalOr(this, o); },

  neg() { return api.neg(this); },
  abs() { return api.abs(this); },
  exp() { return api.exp(this); },
  log() { return api.log(this); },
  sqrt() { return api.sqrt(this); },
  rsqrt() { return api.rsqrt(this); },
  sin() { return api.sin(this); },
  cos() { return api.cos(this); },
  tanh() { return api.tanh(this); },
  sigmoid() { return api.sigmoid(this); },
  silu() { return api.silu(this); },
  relu() { return api.relu(this); },
  reciprocal() { return api.reciprocal(this); },
  logicalNot() { return api.logicalNot(this); },
  gelu(approximate = "none") { return api.gelu(this, approximate); },
  cast(dtype) { return api.cast(this, dtype); },

  sum(axis, keepdim = false) { return api.sum(this, axis, keepdim); },
  mean(axis, keepdim = false) { return api.mean(this, axis, keepdim); },
  max(axis, keepdim = false) { return api.max(this, axis, keepdim); },
  min(axis, keepdim = false) { return api.min(this, axis, keepdim); },
  argmax(axis, keepdim = false) { return api.argmax(this, axis, keepdim); },
  softmax(axis = -1) { return api.softmax(this, axis); },
  matmul(o) { return api.matmul(this, o); },

  reshape(...args: unknown[]) { return api.reshape(this, dimsOf(args)); },
  view(...args: unknown[]) { return api.view(this, dimsOf(args)); },
  permute(...args: unknown[]) { return api.permute(this, dimsOf(args) as number[]); },
  transpose(a = -2, b = -1) { return api.transpose(this, a, b); },
  expand(...args: unknown[]) { return api.expand(this, dimsOf(args)); },
  slice(axis, start = 0, end = null, step = 1) { return api.slice(this, axis, start, end, step); },
  unsqueeze(axis) { return api.unsqueeze(this, axis); },
  squeeze(axis) {
    if (axis !== undefined) return api.squeeze(this, axis);
    return api.reshape(this, this.shape.filter((d) => d !== 1));
  },
  triu(k = 0) { return api.triu(this, k); },
  tril(k = 0) { return api.tril(this, k); },
  gather(axis, index) { return api.gather(this, axis, index); },
  indexSelect(axis, index) { return api.indexSelect(this, axis, index); },
};

/** The names of every installed method. */
export const TENSOR_METHODS = Object.freeze(Object.keys(METHODS) as (keyof TensorMethods)[]);

for (const name of TENSOR_METHODS) {
  Object.defineProperty(Tensor.prototype, name, { value: METHODS[name], writable: true, configurable: true, enumerable: false });
}
