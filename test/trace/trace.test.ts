import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ArgumentError, Linear, Module, Parameter, Sequential, SiLU, TraceError, type Tensor, add, gt, matmul, mul, randn, reshape, sum, tensor, trace,
  traceModule, where,
} from "../../src/index.js";

test("module parameters become graph inputs by dotted path, never constants", () => {
  const net = new Sequential(new Linear(4, 8, { seed: 1 }), new SiLU(), new Linear(8, 2, { seed: 2 }));
  const { graph, slots } = traceModule(net, [randn([3, 4])]);
  const inputs = graph.inputs.map((n) => `${String(n.attrs.kind)}:${String(n.attrs.name)}`);
  assert.deepEqual(inputs, ["arg:x", "param:layers.0.weight", "param:layers.2.weight"]);
  assert.deepEqual(slots.map((s) => s.name), ["layers.0.weight", "layers.2.weight"]);
  assert.equal(graph.nodes.filter((n) => n.op === "constant").length, 0);
  // The module's own tensors are back in place after tracing.
  assert.ok(net.namedParameters().every(([, t]) => t.isConcrete));
  assert.throws(() => traceModule(((x: Tensor) => x) as never, [randn([1])]), ArgumentError);
});

test("registered buffers are inputs of kind buffer; tied weights share one input", () => {
  class Tied extends Module {
    emb = new Linear(4, 6, { seed: 1 });
    head = new Linear(4, 6, { seed: 2 });
    scale: Tensor;
    constructor() {
      super();
      this.head.weight = this.emb.weight;
      this.scale = this.registerBuffer("scale", tensor([2]));
    }
    forward(x: Tensor) {
      return mul(add(this.emb.forward(x), this.head.forward(x)), this.scale);
    }
  }
  const m = new Tied();
  const { graph, slots, tiedSlots } = trace(m, [randn([2, 4])]);
  assert.deepEqual(graph.inputs.map((n) => `${String(n.attrs.kind)}:${String(n.attrs.name)}`), ["arg:x", "param:emb.weight", "buffer:scale"]);
  assert.deepEqual(slots.map((s) => s.name), ["emb.weight", "scale"]);
  assert.deepEqual(tiedSlots, [{ name: "head.weight", kind: "param", sameAs: "emb.weight" }]);
  assert.equal(m.head.weight, m.emb.weight);
});

test("a dynamic dim stays symbolic through every shape rule; duck sizing shares a symbol", () => {
  const f = (x: Tensor, y: Tensor) => reshape(add(x, y), [-1]);
  const { graph, args } = trace(f, [randn([5, 4]), randn([5, 4])], { dynamic: { x: [0], 1: [0] } });
  assert.equal(graph.symbols.length, 1);
  assert.equal(String(graph.outputs[0]!.type.shape[0]), "4*s0");
  assert.deepEqual(args.map((a) => (a.kind === "tensor" ? a.shape.map(String) : [])), [["s0", "4"], ["s0", "4"]]);
  // Different example sizes give different symbols.
  const g = trace((x: Tensor, y: Tensor) => [x, y], [randn([5]), randn([6])], { dynamic: { 0: [0], 1: [0] } }).graph;
  assert.deepEqual(g.symbols.map((s) => [s.name, s.hint]), [["s0", 5], ["s1", 6]]);
});

test("dynamic ranges: named, negative dims, duck-sized dims intersect their ranges", () => {
  const f = (x: Tensor, y: Tensor) => add(x, y);
  const { graph } = trace(f, [randn([7, 4]), randn([7, 4])], { dynamic: { x: { 0: { min: 2, max: 100 } }, y: { [-2]: { min: 1, max: 64 } } } });
  assert.deepEqual(graph.symbols, [{ name: "s0", min: 2, max: 64, hint: 7 }]);
  const defaults = trace((x: Tensor) => mul(x, 2), [randn([7, 4])], { dynamic: { x: [0] } }).graph.symbols[0]!;
  assert.equal(defaults.min, 1);
  assert.equal(defaults.max, 2 ** 31 - 1);
});

test("grouped dynamic dims share a symbol by name only: equal example sizes in other groups stay apart", () => {
  const f = (a: Tensor, b: Tensor, c: Tensor) => [add(a, b), c];
  const { graph, args } = trace(f, [randn([3]), randn([3]), randn([3, 2])], {
    dynamic: { a: { 0: { group: "tokens" } }, b: { 0: { group: "tokens", max: 50 } }, c: { 0: { group: "rows" } } },
  });
  assert.deepEqual(graph.symbols, [{ name: "s0", min: 1, max: 50, hint: 3 }, { name: "s1", min: 1, max: 2 ** 31 - 1, hint: 3 }]);
  assert.deepEqual(args.map((x) => (x.kind === "tensor" ? x.shape.map(String) : [])), [["s0"], ["s0"], ["s1", "2"]]);
  assert.throws(
    () => trace(f, [randn([3]), randn([4]), randn([3, 2])], { dynamic: { a: { 0: { group: "g" } }, b: { 0: { group: "g" } } } }),
    (e: unknown) => e instanceof ArgumentError && /group 'g' differ in the example call: 3 and 4/.test(e.message),
  );
});

test("bad dynamic specs are ArgumentErrors naming the argument", () => {
  const f = (x: Tensor, n: number) => mul(x, n);
  const bad = (dynamic: object, pattern: RegExp) =>
    assert.throws(() => trace(f, [randn([3, 2]), 2], { dynamic: dynamic as never }), (e: unknown) => e instanceof ArgumentError && pattern.test(e.message));
  bad({ z: [0] }, /'z'.*does not have.*x, n/);
  bad({ 5: [0] }, /'5'.*was not passed/);
  bad({ x: [2] }, /dim 2 of 'x' does not exist: it has rank 2/);
  bad({ n: [0] }, /'n' \(1\) has dynamic dims but is not a Tensor/);
  bad({ x: { 0: { min: 4, max: 10 } } }, /size 3, outside its range \[4, 10\]/);
  bad({ x: { 0: { min: 5, max: 2 } } }, /invalid range/);
});

test("turning a dynamic dim into a number is a TraceError at the user's line", () => {
  const f = (x: Tensor) => mul(x, (x.shape[0] as number) * 2);
  assert.throws(
    () => trace(f, [randn([3])], { dynamic: { 0: [0] } }),
    (e: unknown) => e instanceof TraceError && /s0/.test(e.message) && /trace\.test\.(ts|js):\d+:\d+/.test(e.sourceLine ?? ""),
  );
  const g = (x: Tensor) => reshape(x, [Number(x.shape[0]), 1]);
  assert.throws(() => trace(g, [randn([3])], { dynamic: { 0: [0] } }), (e: unknown) => e instanceof TraceError && /trace\.test/.test(e.sourceLine ?? ""));
  // Static dims are plain numbers, and a symbolic dim may be printed.
  const h = (x: Tensor) => reshape(x, [x.shape[0]!, (x.shape[1] as number) * 2 / 2]);
  assert.equal(trace(h, [randn([3, 4])], { dynamic: { 0: [0] } }).graph.outputs[0]!.type.shape.map(String).join(","), "s0,4");
  assert.equal(`${sum(randn([2])).shape.length}`, "0");
});

test("data-dependent control flow is a TraceError naming the line", () => {
  const viaItem = (x: Tensor) => (sum(x).item() > 0 ? x : mul(x, -1));
  assert.throws(() => trace(viaItem, [randn([3])]), (e: unknown) => e instanceof TraceError && /item\(\)/.test(e.message) && /trace\.test/.test(e.sourceLine ?? ""));
  const viaCompare = (x: Tensor) => ((sum(x) as unknown as number) > 0 ? x : mul(x, -1));
  assert.throws(() => trace(viaCompare, [randn([3])]), (e: unknown) => e instanceof TraceError && /number/.test(e.message) && /trace\.test/.test(e.sourceLine ?? ""));
  const viaArray = (x: Tensor) => mul(x, (x.toArray() as number[])[0]!);
  assert.throws(() => trace(viaArray, [randn([3])]), (e: unknown) => e instanceof TraceError && /toArray\(\)/.test(e.message));
  const viaValues = (x: Tensor) => mul(x, x.values()[0]!);
  assert.throws(() => trace(viaValues, [randn([3])]), (e: unknown) => e instanceof TraceError && /values\(\)/.test(e.message));
  // The traceable way: where().
  const ok = (x: Tensor) => where(gt(sum(x), 0), x, mul(x, -1));
  assert.ok(trace(ok, [randn([3])]).graph.nodes.some((n) => n.op === "where"));
});

test("every recorded node names the user's line, even below deep module nesting", () => {
  let inner: Module = new Linear(4, 4, { seed: 1 });
  for (let i = 0; i < 16; i++) inner = new Sequential(inner);
  const { graph } = trace(inner, [randn([2, 4])]);
  const ops = graph.nodes.filter((n) => n.op !== "input");
  assert.ok(ops.length > 0);
  for (const n of ops) assert.match(n.source ?? "", /^trace\.test\.(ts|js):\d+:\d+$/);

  const f = (x: Tensor) => {
    const y = mul(x, 2);
    return add(y, 1);
  };
  const lines = trace(f, [randn([2])]).graph.nodes.filter((n) => n.op === "mul" || n.op === "add").map((n) => Number(n.source!.split(":")[1]));
  assert.equal(lines.length, 2);
  assert.equal(lines[1]! - lines[0]!, 1);
});

test("small concrete tensors become constants; large ones must be buffers", () => {
  const small = tensor([1, 2, 3]);
  const { graph } = trace((x: Tensor) => add(x, small), [randn([3])]);
  const constants = graph.nodes.filter((n) => n.op === "constant");
  assert.equal(constants.length, 1);
  assert.deepEqual(constants[0]!.attrs.values, [1, 2, 3]);
  const big = randn([100, 100]);
  assert.throws(() => trace((x: Tensor) => matmul(x, big), [randn([2, 100])]), (e: unknown) => e instanceof TraceError && /register it as a buffer/.test(e.message) && /trace\.test/.test(e.sourceLine ?? ""));
  class Unregistered extends Module {
    table = randn([64, 128]);
    forward(x: Tensor) {
      return matmul(x, this.table);
    }
  }
  assert.throws(() => trace(new Unregistered(), [randn([1, 64])]), (e: unknown) => e instanceof TraceError && /f32\[64,128\]/.test(e.message));
});

test("non-tensor arguments are specialised; ones that cannot be compared exactly are refused", () => {
  const f = (x: Tensor, k: number, opts: { double: boolean }) => mul(x, opts.double ? k * 2 : k);
  const { args, graph } = trace(f, [randn([2]), 3, { double: true }]);
  assert.deepEqual(args.map((a) => a.kind), ["tensor", "value", "value"]);
  assert.equal(graph.inputs.length, 1);
  const g = (xs: Tensor[]) => add(xs[0]!, xs[1]!);
  assert.throws(() => trace(g, [[randn([2]), randn([2])]]), (e: unknown) => e instanceof ArgumentError && /'xs' \(0\) holds a Tensor at the top\[0\]/.test(e.message));
  assert.throws(() => trace((x: Tensor, act: (t: Tensor) => Tensor) => act(x), [randn([2]), (t: Tensor) => t]), (e: unknown) => e instanceof ArgumentError && /'act' \(1\) is a function/.test(e.message));
  assert.throws(() => trace((x: Tensor, m: Map<string, number>) => mul(x, m.get("a")!), [randn([2]), new Map([["a", 1]])]), (e: unknown) => e instanceof ArgumentError && /is a Map/.test(e.message));
});

test("wrong numbers of arguments are ArgumentErrors naming the parameters", () => {
  const f = (x: Tensor, w: Tensor) => matmul(x, w);
  assert.throws(() => trace(f, [randn([2, 3]), randn([3, 2]), randn([1])]), (e: unknown) => e instanceof ArgumentError && /takes 2 arguments \(x, w\), got 3/.test(e.message));
  assert.throws(() => trace(f, [randn([2, 3])]), (e: unknown) => e instanceof ArgumentError && /missing argument 'w': called with 1 of 2/.test(e.message));
  // An optional parameter the function does not use when absent is fine.
  const g = (x: Tensor, bias?: Tensor) => (bias ? add(x, bias) : mul(x, 2));
  assert.equal(trace(g, [randn([2])]).args[1], undefined);
  // Rest parameters take any number.
  const h = (...xs: Tensor[]) => add(xs[0]!, xs[1]!);
  assert.equal(trace(h, [randn([2]), randn([2])]).graph.inputs.length, 2);
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
  assert.match(fa, /^[0-9a-f]{64}$/);
  assert.equal(fa, trace(new A(), [x]).fingerprint);
  assert.notEqual(fa, trace(new B(), [x]).fingerprint);
  const f1 = (t: Tensor) => mul(t, 2);
  const f2 = (t: Tensor) => mul(t, 3);
  assert.notEqual(trace(f1, [x]).fingerprint, trace(f2, [x]).fingerprint);
});

test("outputs may be arrays and objects of tensors", () => {
  const { outputSpec, graph } = trace((x: Tensor) => ({ a: x, b: [mul(x, 2), add(x, 1)] }), [randn([2])]);
  assert.equal(graph.outputs.length, 3);
  assert.deepEqual(outputSpec, { kind: "object", keys: ["a", "b"], items: [{ kind: "leaf" }, { kind: "array", items: [{ kind: "leaf" }, { kind: "leaf" }] }] });
  assert.throws(() => trace((x: Tensor) => ({ n: 3, x }), [randn([2])]), (e: unknown) => e instanceof TraceError && /number/.test(e.message));
});

test("a parameter swapped by the tracer is restored even when the forward throws", () => {
  class Boom extends Module {
    w = new Parameter(randn([2, 2]));
    forward(x: Tensor) {
      matmul(x, this.w);
      throw new Error("boom");
    }
  }
  const m = new Boom();
  const before = m.w;
  assert.throws(() => trace(m, [randn([2, 2])]), /boom/);
  assert.equal(m.w, before);
});

test("an argument named like a module tensor keeps the tensor's name; the argument's input is renamed", () => {
  class Scale extends Module {
    weight = new Parameter(randn([3]));
    forward(weight: Tensor) {
      return mul(weight, this.weight);
    }
  }
  const { graph, args } = trace(new Scale(), [randn([3])]);
  assert.deepEqual(graph.inputs.map((n) => String(n.attrs.name)), ["weight@0", "weight"]);
  assert.equal(args[0]!.name, "weight");
});
