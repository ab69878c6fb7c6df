import assert from "node:assert/strict";
import { test } from "node:test";
import { type Tensor, add, exp, linear, matmul, mul, randn, rmsNorm, sigmoid, softmax, sub, tanh, trace } from "../../src/index.js";
import { runPipeline } from "../../src/passes/index.js";
import { generateProgram, planMemory, schedule } from "../../src/codegen/index.js";
import { loadJsProgram } from "../../src/backend/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

const program = (f: (...x: Tensor[]) => Tensor, args: Tensor[]) => generateProgram(runPipeline(trace(f, args, { dynamic: { 0: [0] } }).graph).graph);

test("softmax and rms_norm each become one kernel", () => {
  assert.equal(program((x) => softmax(x, -1), [randn([4, 16])]).kernels.length, 1);
  assert.equal(program((x, w) => rmsNorm(x, w), [randn([4, 16]), randn([16])]).kernels.length, 1);
});

test("a chain of five pointwise ops is one loop", () => {
  const p = program((x) => tanh(sigmoid(exp(add(mul(x, 2), 1)))), [randn([5, 3])]);
  assert.equal(p.kernels.length, 1);
  assert.equal(p.kernels[0]!.body.length, 1);
});

test("matmul is a template call and its transposed weight is a strided view, not a copy", () => {
  const args = [randn([4, 8]), randn([6, 8]), randn([6]), randn([4, 6])];
  const p = generateProgram(runPipeline(trace((x: Tensor, w: Tensor, b: Tensor, r: Tensor) => add(linear(x, w, b), r), args).graph).graph);
  assert.equal(p.kernels.length, 2);
  assert.equal(p.kernels[0]!.body[0]!.k, "matmul");
});

const w = randn([8, 8], { seed: 7 });

test("the memory plan reuses slots and repeated calls at other sizes stay right", () => {
  const f = (x: Tensor) => {
    let h = x;
    for (let i = 0; i < 4; i++) h = matmul(softmax(sub(h, mul(h, 0.5)), -1), w);
    return h;
  };
  const g = runPipeline(trace(f, [randn([3, 8])], { dynamic: { 0: [0] } }).graph).graph;
  const s = schedule(g);
  const plan = planMemory(s.buffers, s.kernels);
  const temps = s.buffers.filter((b) => b.kind === "temp").length;
  assert.ok(temps >= 3, `expected several temporaries, got ${temps}`);
  assert.ok(plan.slots.length < temps, `${plan.slots.length} slots for ${temps} temporaries`);
  const exe = loadJsProgram(generateProgram(g));
  for (const n of [3, 17, 1, 17]) {
    const x = randn([n, 8], { seed: n });
    assertAllClose(exe.run([x])[0]!, f(x), { rtol: 1e-5, atol: 1e-7 });
  }
});
