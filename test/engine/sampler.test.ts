import assert from "node:assert/strict";
import { test } from "node:test";
import { Sampler, argmaxOf } from "../../src/engine/index.js";
import { ArgumentError } from "../../src/util/index.js";

const logits = [1.0, 3.0, 2.0, 3.0, -1.0];

test("greedy picks the first maximum", () => {
  assert.equal(argmaxOf(logits), 1);
  assert.equal(new Sampler().sample(logits), 1);
});

test("repetition penalty divides positive and multiplies negative logits of seen tokens", () => {
  // token 1 (3.0) penalised by 2 → 1.5 < token 3 (3.0): greedy moves to 3.
  assert.equal(new Sampler({ repetitionPenalty: 2 }).sample(logits, [1]), 3);
  assert.equal(new Sampler({ repetitionPenalty: 2 }).sample([-1, -0.6], [1]), 0);
});

test("top-k 1 is greedy whatever the temperature", () => {
  const s = new Sampler({ temperature: 5, topK: 1, seed: 3 });
  for (let i = 0; i < 20; i++) assert.equal(s.sample(logits), 1);
});

test("top-p keeps only the nucleus", () => {
  // probabilities at T=1 ∝ e^[1,3,2,3,-1]: tokens 1 and 3 hold ~0.79; p=0.7 keeps just them.
  const s = new Sampler({ temperature: 1, topP: 0.7, seed: 11 });
  const seen = new Set<number>();
  for (let i = 0; i < 200; i++) seen.add(s.sample(logits));
  assert.deepEqual([...seen].sort(), [1, 3]);
});

test("sampling follows the softmax distribution and the same seed repeats exactly", () => {
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1, seed });
    return Array.from({ length: 4000 }, () => s.sample([0, Math.log(3)]));
  };
  const a = draw(42);
  assert.deepEqual(a, draw(42));
  assert.notDeepEqual(a, draw(43));
  const frac = a.filter((t) => t === 1).length / a.length;
  assert.ok(Math.abs(frac - 0.75) < 0.03, `frequency ${frac} should be near 0.75`);
});

test("bad parameters are typed errors", () => {
  assert.throws(() => new Sampler({ temperature: -1 }), ArgumentError);
  assert.throws(() => new Sampler({ topP: 0 }), /topP/);
  assert.throws(() => new Sampler({ topK: 1.5 }), /topK/);
  // Infinity would sample uniformly (temperature) or flatten every seen token (penalty): refused, not honoured.
  assert.throws(() => new Sampler({ temperature: Infinity }), /temperature must be a finite number >= 0, got Infinity/);
  assert.throws(() => new Sampler({ repetitionPenalty: Infinity }), /repetitionPenalty must be a finite number > 0/);
});

test("min-p drops tokens less likely than minP × the top one (after temperature), and is validated", () => {
  // T=1: probabilities ∝ e^[1,3,2,3,-1]; relative to the top (e^3): tokens 1, 3 at 1, token 2 at e^-1 ≈ 0.37, token 0 at e^-2 ≈ 0.14.
  const seen = (minP: number, temperature = 1) => {
    const s = new Sampler({ temperature, minP, seed: 5 });
    const got = new Set<number>();
    for (let i = 0; i < 400; i++) got.add(s.sample(logits));
    return [...got].sort();
  };
  assert.deepEqual(seen(0.5), [1, 3]);
  assert.deepEqual(seen(0.3), [1, 2, 3]);
  assert.deepEqual(seen(0.1), [0, 1, 2, 3]);
  // A higher temperature flattens the distribution: token 2 rises to e^-0.5 ≈ 0.61 of the top.
  assert.deepEqual(seen(0.5, 2), [1, 2, 3]);
  assert.deepEqual(seen(0), [0, 1, 2, 3, 4]);
  assert.throws(() => new Sampler({ minP: 1.5 }), /minP must be in \[0, 1\], got 1.5/);
  assert.throws(() => new Sampler({ minP: -0.1 }), ArgumentError);
});
