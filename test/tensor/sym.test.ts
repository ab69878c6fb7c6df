// Symbolic dims: canonical text, arithmetic, exact division, equality, evaluation, JSON, and coercion.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Dim, SymExpr, dimAdd, dimDivExact, dimEq, dimFromJSON, dimMul, dimSub, evalDim, evalShape, isStaticShape, isSym, numel,
  setSymCoerceHandler, shapeEq, shapeToString, sym,
} from "../../src/tensor/index.js";
import { ShapeError, TraceError } from "../../src/util/index.js";

const s0 = sym("s0");
const s1 = sym("s1");
const text = (d: Dim | undefined) => String(d);

test("canonical text: terms by degree then name, constants last and folded", () => {
  assert.equal(text(s0), "s0");
  assert.equal(text(dimAdd(dimMul(s0, 2), 3)), "2*s0 + 3");
  assert.equal(text(dimAdd(3, dimMul(2, s0))), "2*s0 + 3");
  assert.equal(text(dimAdd(s1, s0)), "s0 + s1");
  assert.equal(text(dimSub(s1, s0)), "-s0 + s1");
  assert.equal(text(dimSub(s0, dimMul(s1, 2))), "s0 - 2*s1");
  assert.equal(text(dimMul(s1, s0)), "s0*s1");
  assert.equal(text(dimMul(dimAdd(s0, 1), dimSub(s0, 1))), "s0*s0 - 1");
  assert.equal(text(dimAdd(dimMul(s0, s1), dimAdd(s0, 5))), "s0*s1 + s0 + 5");
  assert.equal(text(dimSub(0, s0)), "-s0");
  assert.equal(`${dimAdd(s0, s0)}`, "2*s0");
});

test("results that are constant collapse to plain numbers", () => {
  assert.equal(dimSub(s0, s0), 0);
  assert.equal(dimSub(dimAdd(s0, 7), s0), 7);
  assert.equal(dimMul(s0, 0), 0);
  assert.equal(dimAdd(2, 3), 5);
  assert.equal(dimMul(4, 5), 20);
  assert.ok(!isSym(dimSub(dimMul(s0, s1), dimMul(s1, s0))));
  assert.ok(isSym(s0));
  assert.ok(!isSym(3));
});

test("exact division: by constants and monomials dividing every term, else undefined", () => {
  assert.equal(text(dimDivExact(dimMul(s0, 1024), 16)), "64*s0");
  assert.equal(dimDivExact(dimMul(s0, 1024), dimMul(s0, 16)), 64);
  assert.equal(text(dimDivExact(dimMul(s0, s1), s1)), "s0");
  assert.equal(text(dimDivExact(dimAdd(dimMul(s0, s1), s1), s1)), "s0 + 1");
  assert.equal(text(dimDivExact(dimAdd(dimMul(s0, 4), 8), 4)), "s0 + 2");
  assert.equal(dimDivExact(dimAdd(s0, 1), dimAdd(s0, 1)), 1); // an equal divisor
  assert.equal(dimDivExact(12, 4), 3);
  // Failures: not a multiple, not divisible by the symbol, division by zero.
  assert.equal(dimDivExact(s0, 2), undefined);
  assert.equal(dimDivExact(dimAdd(dimMul(s0, 4), 2), 4), undefined);
  assert.equal(dimDivExact(dimAdd(s0, 1), s0), undefined);
  assert.equal(dimDivExact(s0, s1), undefined);
  assert.equal(dimDivExact(7, 2), undefined);
  assert.equal(dimDivExact(7, 0), undefined);
  assert.equal(dimDivExact(s0, 0), undefined);
  assert.equal(dimDivExact(8, s0), undefined);
});

test("equality is structural on the canonical form", () => {
  assert.ok(dimEq(dimAdd(s0, s1), dimAdd(s1, s0)));
  assert.ok(dimEq(dimMul(dimAdd(s0, 1), 2), dimAdd(dimMul(s0, 2), 2)));
  assert.ok(!dimEq(s0, s1));
  assert.ok(!dimEq(s0, 3));
  assert.ok(dimEq(4, 4));
  assert.ok(shapeEq([s0, 4], [sym("s0"), 4]));
  assert.ok(!shapeEq([s0, 4], [s0]));
  assert.equal(shapeToString([dimAdd(s0, 1), 4]), "[s0 + 1,4]");
});

test("evalDim and numel", () => {
  assert.equal(evalDim(dimAdd(dimMul(s0, s1), 3), { s0: 2, s1: 5 }), 13);
  assert.equal(evalDim(dimSub(s1, s0), { s0: 2, s1: 5 }), 3);
  assert.equal(evalDim(7, {}), 7);
  assert.deepEqual(evalShape([s0, dimMul(s0, 2), 3], { s0: 4 }), [4, 8, 3]);
  assert.equal(text(numel([s0, 16, s1])), "16*s0*s1");
  assert.equal(numel([2, 3]), 6);
  assert.equal(numel([]), 1);
  assert.ok(isStaticShape([1, 2]));
  assert.ok(!isStaticShape([1, s0]));
  assert.throws(() => evalDim(s0, { s1: 1 }), (e) => e instanceof ShapeError && /symbol s0/.test(e.message));
});

test("JSON round trip keeps the canonical form", () => {
  const dims: Dim[] = [s0, dimAdd(dimMul(s0, s1), dimMul(s0, -2)), dimSub(dimMul(dimMul(s1, s1), 3), 1), 5, 0];
  for (const d of dims) {
    const back = dimFromJSON(JSON.parse(JSON.stringify(d)));
    assert.ok(dimEq(back, d), `${d} → ${back}`);
    assert.equal(text(back), text(d));
    assert.equal(JSON.stringify(back), JSON.stringify(d));
  }
  // Monomial factor order in the JSON does not matter.
  assert.equal(text(dimFromJSON({ sym: [[1, ["s1", "s0"]]] })), "s0*s1");
  assert.throws(() => dimFromJSON("s0"), ShapeError);
  assert.throws(() => dimFromJSON({ terms: [] }), ShapeError);
});

test("symbol names are validated", () => {
  assert.equal(SymExpr.symbol("tokens").toString(), "tokens");
  assert.throws(() => sym("1x"), (e) => e instanceof ShapeError && e.message.includes("1x"));
  assert.throws(() => sym("a b"), ShapeError);
  assert.throws(() => sym(""), ShapeError);
});

test("turning a symbol into a number goes through the coerce hook (a TraceError by default)", () => {
  assert.throws(() => (s0 as unknown as number) * 2, (e) => e instanceof TraceError && e.message.includes("s0"));
  assert.throws(() => Number(dimAdd(s0, 1)), (e) => e instanceof TraceError && e.message.includes("s0 + 1"));
  assert.equal(`${s0}!`, "s0!"); // string conversion is allowed
  const seen: string[] = [];
  const prev = setSymCoerceHandler((e) => {
    seen.push(String(e));
    throw new Error("custom");
  });
  try {
    assert.throws(() => +s1, /custom/);
  } finally {
    setSymCoerceHandler(prev);
  }
  assert.deepEqual(seen, ["s1"]);
  assert.throws(() => +s1, TraceError); // restored
});
