import assert from "node:assert/strict";
import { test } from "node:test";
import { ArgumentError, DTypeError, Embedding, Linear, Module, RMSNorm, Sequential, ShapeError, SiLU, type Tensor, randn, tensor } from "../../src/index.js";
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

test("tied weights: listed once by namedParameters, loaded together like torch's in-place copy", () => {
  class LM extends Module {
    embed = new Embedding(10, 4, { seed: 1 });
    head = new Linear(4, 10, { seed: 2 });
    constructor() {
      super();
      this.head.weight = this.embed.weight;
    }
    forward(ids: Tensor): Tensor {
      return this.head.forward(this.embed.forward(ids));
    }
  }
  const lm = new LM();
  assert.deepEqual(lm.namedParameters().map(([n]) => n), ["embed.weight"]);
  assert.deepEqual(Object.keys(lm.stateDict()), ["embed.weight", "head.weight"]);
  const w = randn([10, 4], { seed: 7 });
  lm.loadStateDict({ "embed.weight": w }, { strict: false });
  assert.equal(lm.head.weight, lm.embed.weight);
  assertAllClose(lm.head.weight, w);
});

test("modules in plain-object fields and shared submodules are found; a back reference is not walked", () => {
  class Experts extends Module {
    byName = { a: new Linear(2, 2, { seed: 1 }), b: new Linear(2, 2, { seed: 2 }) };
    shared: Linear;
    again: Linear;
    parent: Module | undefined;
    config = { hidden: 2, names: ["a", "b"] };
    constructor() {
      super();
      this.shared = new Linear(2, 2, { seed: 3 });
      this.again = this.shared;
    }
    forward(x: Tensor): Tensor {
      return this.byName.a.forward(x);
    }
  }
  const m = new Experts();
  m.parent = m;
  assert.deepEqual(m.namedTensorSlots().map((s) => s.name), ["byName.a.weight", "byName.b.weight", "shared.weight", "again.weight"]);
  assert.deepEqual(m.namedParameters().map(([n]) => n), ["byName.a.weight", "byName.b.weight", "shared.weight"]);
  assert.deepEqual(m.namedModules().map(([n]) => n), ["", "byName.a", "byName.b", "shared"]);
});

test("a failed loadStateDict changes nothing", () => {
  const net = new Net();
  const before = net.stateDict();
  assert.throws(
    () => net.loadStateDict({ ...before, "layers.0.weight": randn([4, 4], { seed: 9 }), "norm.weight": randn([3]) }),
    (e: unknown) => e instanceof ShapeError && /norm\.weight/.test(e.message) && /\[4\]/.test(e.message),
  );
  for (const [name, t] of Object.entries(net.stateDict())) assert.equal(t, before[name], name);
  assert.throws(() => net.loadStateDict({ ...before, table: [1, 2, 3, 4] as never }), (e: unknown) => e instanceof ArgumentError && /'table' is not a concrete Tensor/.test(e.message));
});

test("sourceTexts holds every forward in the tree, walking the class chain", () => {
  class Base extends Module {
    lin = new Linear(2, 2);
    forward(x: Tensor): Tensor {
      return this.lin.forward(x);
    }
  }
  class Derived extends Base {
    override forward(x: Tensor): Tensor {
      return super.forward(super.forward(x));
    }
  }
  const texts = new Derived().sourceTexts();
  assert.equal(texts.length, 3);
  assert.ok(texts.some((t) => t.startsWith("Derived:") && t.includes("super.forward")));
  assert.ok(texts.some((t) => t.startsWith("Base:")));
  assert.ok(texts.some((t) => t.startsWith("Linear:")));
});

test("layers: Embedding looks up rows, RMSNorm normalises, SiLU and Sequential compose", () => {
  const emb = new Embedding(3, 2);
  emb.loadStateDict({ weight: tensor([[1, 2], [3, 4], [5, 6]]) });
  assert.deepEqual(emb.forward(tensor([2, 0], { dtype: "i32" })).toArray(), [[5, 6], [1, 2]]);
  const norm = new RMSNorm(2, 0);
  assertAllClose(norm.forward(tensor([[3, 4]])), tensor([[3 / Math.sqrt(12.5), 4 / Math.sqrt(12.5)]]));
  const seq = new Sequential(new SiLU(), new SiLU());
  const s = (v: number) => v / (1 + Math.exp(-v));
  assertAllClose(seq.forward(tensor([1, -2])), tensor([s(s(1)), s(s(-2))]));
});
