// assertAllClose: numeric comparison with rtol/atol that reports the worst element.
import assert from "node:assert/strict";
import { Tensor } from "../../src/tensor/index.js";

export interface Tolerance {
  rtol?: number;
  atol?: number;
}

function flat(x: Tensor | ArrayLike<number>): ArrayLike<number> {
  return x instanceof Tensor ? x.values() : x;
}

/** |a - e| <= atol + rtol * |e| for every element; NaN equals NaN; shapes must match for tensors. */
export function assertAllClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, tol: Tolerance = {}): void {
  const { rtol = 1e-5, atol = 1e-6 } = tol;
  if (actual instanceof Tensor && expected instanceof Tensor) {
    assert.deepEqual([...actual.shape].map(String), [...expected.shape].map(String), "shape mismatch");
  }
  const a = flat(actual);
  const e = flat(expected);
  assert.equal(a.length, e.length, "length mismatch");
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = e[i]!;
    if (Number.isNaN(x) && Number.isNaN(y)) continue;
    if (x === y) continue;
    const excess = Math.abs(x - y) - (atol + rtol * Math.abs(y));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`not close at flat index ${worst}: actual ${a[worst]}, expected ${e[worst]} (rtol ${rtol}, atol ${atol})`);
  }
}
