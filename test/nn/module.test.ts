import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, DTypeError, Embedding, Linear, Module, RMSNorm, ShapeError, type Tensor, randn, tensor } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

class Net extends Module {
  emb = new Embedding(10, 4, { seed: 1 });
  layers = [new Linear(4, 4, { seed: 2 }), new Linear(4, 4, { seed: 3, bias: true })];
  norm = new RMSNorm(4);
  table: Tensor;
  constructor() {
    super();
    this.table = this.registerBuffer("table", randn([4]));
  }
  forward(ids: Tensor): Tensor {
    let h = this.emb.forward(ids);
    for (const l of this.layers) h = l.forward(h);
    return this.norm.forward(h);
  }
}

test("parameters, buffers and submodules are found from fields, arrays included", () => {
  const net = new Net();
  assert.deepEqual(net.namedParameters().map(([n]) => n), ["emb.weight", "layers.0.weight", "layers.1.weight", "layers.1.bias", "norm.weight"]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), ["table"]);
  assert.deepEqual(net.namedModules().map(([n]) => n), ["", "emb", "layers.0", "layers.1", "norm"]);
});

test("loadStateDict replaces weights and checks names, shapes and dtypes", () => {
  const net = new Net();
  const state = net.stateDict();
  const w = randn([4, 4], { seed: 42 });
  net.loadStateDict({ ...state, "layers.0.weight": w });
  assertAllClose(net.namedParameters().find(([n]) => n === "layers.0.weight")![1], w);
  assert.throws(() => net.loadStateDict({ ...state, extra: w }), (e: unknown) => e instanceof ArgumentError && /unexpected: extra/.test(e.message));
  const { "norm.weight": _, ...missing } = state;
  assert.throws(() => net.loadStateDict(missing), /missing: norm.weight/);
  assert.throws(() => net.loadStateDict({ "norm.weight": randn([5]) }, { strict: false }), (e: unknown) => e instanceof ShapeError && /norm.weight/.test(e.message));
  assert.throws(() => net.loadStateDict({ "norm.weight": tensor([1, 2, 3, 4], { dtype: "bf16" }) }, { strict: false }), DTypeError);
});

test("Linear follows torch's layout: y = x Wᵀ + b", () => {
  const lin = new Linear(2, 3, { bias: true });
  lin.loadStateDict({ weight: tensor([[1, 0], [0, 1], [1, 1]]), bias: tensor([1, 2, 3]) });
  assert.deepEqual(lin.forward(tensor([[2, 5]])).toArray(), [[3, 7, 10]]);
});
