// Basic layers: Linear, Embedding, RMSNorm, SiLU, Sequential (torch layouts and semantics).
import { type DType, DeferredStorage, type Tensor, Tensor as T, randn } from "../tensor/index.js";
import { embedding, linear, rmsNorm, silu } from "../ops/index.js";
import { Module } from "./module.js";
import { Parameter } from "./parameter.js";

export interface InitOptions {
  readonly dtype?: DType;
  readonly seed?: number;
  /** "normal" (default) draws from the seed; "empty" gives zeros (allocated on first use), for weights loaded afterwards. */
  readonly init?: "normal" | "empty";
}

function initWeight(shape: number[], options: InitOptions, std: number, seedOffset = 0): Parameter {
  const dtype = options.dtype ?? "f32";
  if (options.init === "empty") return new Parameter(new T(dtype, shape, new DeferredStorage(dtype, shape.reduce((a, b) => a * b, 1))));
  return new Parameter(randn(shape, { seed: (options.seed ?? 0) + seedOffset, dtype, std }));
}

/** y = x Wᵀ + b with W of shape [out, in]; weights drawn N(0, 1/in) from `seed`. */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | undefined;
  constructor(inFeatures: number, outFeatures: number, options: InitOptions & { bias?: boolean } = {}) {
    super();
    this.weight = initWeight([outFeatures, inFeatures], options, 1 / Math.sqrt(inFeatures));
    this.bias = options.bias ? initWeight([outFeatures], options, 0.02, 1) : undefined;
  }
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  weight: Parameter;
  constructor(numEmbeddings: number, dim: number, options: InitOptions = {}) {
    super();
    this.weight = initWeight([numEmbeddings, dim], options, 1);
  }
  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}

export class RMSNorm extends Module {
  weight: Parameter;
  constructor(
    dim: number,
    readonly eps = 1e-6,
    options: { dtype?: DType } = {},
  ) {
    super();
    this.weight = new Parameter(T.fromValues(options.dtype ?? "f32", [dim], new Float32Array(dim).fill(1)));
  }
  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
  }
}

export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = (layer.forward as (t: Tensor) => Tensor)(y);
    return y;
  }
}
