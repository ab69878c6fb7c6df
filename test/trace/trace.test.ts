import assert from "node:assert/strict";
import { test } from "node:test";
import { Linear, Module, Sequential, SiLU, TraceError, type Tensor, add, matmul, mul, randn, reshape, sum, tensor, trace } from "../../src/index.js";

test("module parameters become graph inputs by dotted path, never constants", () => {
  const net = new Sequential(new Linear(4, 8, { seed: 1 }), new SiLU(), new Linear(8, 2, { seed: 2 }));
  const { graph, slots } = trace(net, [randn([3, 4])]);
  const inputs = graph.inputs.map((n) => `${String(n.attrs.kind)}:${String(n.attrs.name)}`);
  assert.deepEqual(inputs, ["arg:x", "param:layers.0.weight", "param:layers.2.weight"]);
  assert.deepEqual(slots.map((s) => s.name), ["layers.0.weight", "layers.2.weight"]);
  assert.equal(graph.nodes.filter((n) => n.op === "constant").length, 0);
});

test("a dynamic dim stays symbolic through every shape rule; duck sizing shares a symbol", () => {
  const f = (x: Tensor, y: Tensor) => reshape(add(x, y), [-1]);
  const { graph } = trace(f, [randn([5, 4]), randn([5, 4])], { dynamic: { x: [0], 1: [0] } });
  assert.equal(graph.symbols.length, 1);
  assert.equal(String(graph.outputs[0]!.type.shape[0]), "4*s0");
});

test("turning a dynamic dim into a number is a TraceError at the user's line", () => {
  const f = (x: Tensor) => mul(x, (x.shape[0] as number) * 2);
  assert.throws(
    () => trace(f, [randn([3])], { dynamic: { 0: [0] } }),
    (e: unknown) => e instanceof TraceError && /s0/.test(e.message) && /trace\.test\.(ts|js):\d+:\d+/.test(e.sourceLine ?? ""),
  );
});

test("data-dependent control flow is a TraceError naming the line", () => {
  const f = (x: Tensor) => (sum(x).item() > 0 ? x : mul(x, -1));
  assert.throws(() => trace(f, [randn([3])]), (e: unknown) => e instanceof TraceError && /item\(\)/.test(e.message) && !!e.sourceLine);
});

test("small concrete tensors become constants; large ones must be buffers", () => {
  const small = tensor([1, 2, 3]);
  const { graph } = trace((x: Tensor) => add(x, small), [randn([3])]);
  assert.equal(graph.nodes.filter((n) => n.op === "constant").length, 1);
  const big = randn([100, 100]);
  assert.throws(() => trace((x: Tensor) => matmul(x, big), [randn([2, 100])]), (e: unknown) => e instanceof TraceError && /buffer/.test(e.message));
});

test("the fingerprint follows the forward's text", () => {
  class A extends Module {
    w = new Linear(2, 2);
    forward(x: Tensor) {
      return this.w.forward(x);
    }
  }
  class B extends Module {
    w = new Linear(2, 2);
    forward(x: Tensor) {
      return add(this.w.forward(x), 0);
    }
  }
  const x = randn([1, 2]);
  const fa = trace(new A(), [x]).fingerprint;
  assert.equal(fa, trace(new A(), [x]).fingerprint);
  assert.notEqual(fa, trace(new B(), [x]).fingerprint);
});

test("outputs may be arrays and objects of tensors", () => {
  const { outputSpec, graph } = trace((x: Tensor) => ({ a: x, b: [mul(x, 2), add(x, 1)] }), [randn([2])]);
  assert.equal(graph.outputs.length, 3);
  assert.equal(outputSpec.kind, "object");
});
