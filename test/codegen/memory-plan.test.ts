// The memory plan: temporaries share slots when their lifetimes do not overlap, sizes stay symbolic.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { randn } from "../../src/index.js";
import { planMemory, schedule } from "../../src/codegen/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { compileJs, graphOf } from "./graph-of.js";

const chain = graphOf([{ name: "x", shape: ["s0", 8] }, { name: "w", shape: [8, 8], kind: "param" }], (x, w) => {
  let h = x;
  for (let i = 0; i < 4; i++) h = k.matmul(k.softmax(k.sub(h, k.mul(h, 0.5)), -1), w);
  return h;
});

test("a chain of realised buffers needs fewer slots than buffers, and slot sizes stay symbolic", () => {
  const s = schedule(chain);
  const plan = planMemory(s.buffers, s.kernels);
  const temps = s.buffers.filter((b) => b.kind === "temp");
  assert.equal(temps.length, 7); // 4 softmax results feeding matmuls, 3 matmul results feeding the next softmax
  assert.equal(plan.slots.length, 2);
  assert.equal(Object.keys(plan.slotOf).length, temps.length);
  for (const slot of plan.slots) for (const size of slot.sizes) assert.equal(String(size), "8*s0");
  // No two buffers sharing a slot are live at once.
  const live = (id: number) => {
    const uses = s.kernels.flatMap((kk, i) => (kk.buffers.some((b) => b.buf === id) ? [i] : []));
    return [Math.min(...uses), Math.max(...uses)] as const;
  };
  for (const a of temps) {
    for (const b of temps) {
      if (a.id >= b.id || plan.slotOf[a.id] !== plan.slotOf[b.id]) continue;
      const [la, lb] = [live(a.id), live(b.id)];
      assert.ok(la[1] < lb[0] || lb[1] < la[0], `buffers ${a.id} and ${b.id} overlap in slot ${plan.slotOf[a.id]}`);
    }
  }
});

test("slots are typed: buffers of other dtypes never share one", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 4] }, { name: "w", shape: [4, 4] }], (x, w) => {
    const a = k.matmul(k.cast(k.exp(x), "bf16"), k.cast(w, "bf16"));
    return k.matmul(k.cast(k.exp(k.cast(a, "f32")), "f32"), w);
  });
  const s = schedule(g);
  const plan = planMemory(s.buffers, s.kernels);
  for (const b of s.buffers) if (b.kind === "temp") assert.equal(plan.slots[plan.slotOf[b.id]!]!.dtype, b.dtype);
});

test("one Executable called with growing and shrinking sizes stays right, and outputs are never overwritten later", () => {
  const { exe } = compileJs(chain);
  const w = randn([8, 8], { seed: 7 });
  const kept: [k.Tensor, k.Tensor][] = [];
  for (const n of [3, 17, 1, 17, 64, 2]) {
    const x = randn([n, 8], { seed: n });
    const out = exe.run([x, w])[0]!;
    kept.push([out, k.interpret(chain, [x, w])[0]!]);
  }
  for (const [got, want] of kept) assertAllClose(got, want, { rtol: 1e-5, atol: 1e-7 });
});
