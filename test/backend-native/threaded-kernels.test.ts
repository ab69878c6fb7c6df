// Generated pointwise and reduction kernels on Kiln's pool: at odd sizes, several threads give the same bits as one
// (a row is computed whole by one thread, in the single-threaded order), kernels too small for a dispatch stay inline
// on the caller, and the results equal the reference interpreter's.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { type Tensor, interpret, randn } from "../../src/index.js";
import { generateProgram } from "../../src/codegen/index.js";
import { hasToolchain, loadNativeModule, loadNativeProgram } from "../../src/backend/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { graphOf } from "../codegen/graph-of.js";

const skip = hasToolchain() ? false : "no C compiler / Node headers on this machine";

const ROWS = [1, 3, 17, 129, 1031];

/** Rows of `heads` × `dim` (neither a multiple of 16): norm, softmax, SiLU·mul, RoPE, argmax, column sums. */
function rowsGraph(heads: number, dim: number) {
  const cols = heads * dim;
  const g = graphOf(
    [{ name: "x", shape: ["s0", cols] }, { name: "g", shape: ["s0", cols] }, { name: "w", shape: [cols], kind: "param" }, { name: "cos", shape: ["s0", 1, dim] }, { name: "sin", shape: ["s0", 1, dim] }],
    (x, gate, w, cos, sin) => [
      k.rmsNorm(x, w, 1e-6),
      k.softmax(x, -1),
      k.mul(k.silu(gate), x),
      k.rotary(k.reshape(x, [x.shape[0]!, heads, dim]), cos, sin),
      k.argmax(x, -1),
      k.sum(x, 0),
    ],
  );
  const inputs = (rows: number) => [
    randn([rows, cols], { seed: rows }), randn([rows, cols], { seed: rows + 1 }), randn([cols], { seed: 7 }),
    randn([rows, 1, dim], { seed: rows + 2 }), randn([rows, 1, dim], { seed: rows + 3 }),
  ];
  return { g, inputs };
}

const bytes = (t: Tensor) => {
  const v = t.values();
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

for (const [heads, dim] of [[3, 46], [13, 158]] as const) {
  test(`${heads}×${dim} columns: 2 and 3 threads give the bits of 1 thread at ${ROWS.join(", ")} rows`, { skip }, () => {
    const { g, inputs } = rowsGraph(heads, dim);
    const exe = loadNativeProgram(generateProgram(g, { native: true }));
    const mod = loadNativeModule(exe.object);
    const before = mod.threads;
    try {
      for (const rows of ROWS) {
        const x = inputs(rows);
        mod.threads = 1;
        const jobs = mod.parallelJobs;
        const one = exe.run(x);
        assert.equal(mod.parallelJobs, jobs, "one thread dispatches nothing");
        if (rows === 17) one.forEach((t, i) => assertAllClose(t, interpret(g, x)[i]!, { rtol: 1e-5, atol: 1e-5 }));
        for (const threads of [2, 3]) {
          mod.threads = threads;
          const start = mod.parallelJobs;
          const many = exe.run(x);
          many.forEach((t, i) => assert.ok(bytes(t).equals(bytes(one[i]!)), `output ${i} at ${rows} rows on ${threads} threads`));
          const dispatched = mod.parallelJobs - start;
          if (rows === 1) assert.equal(dispatched, 0, "a single row is too small to dispatch");
          if (rows >= 129) assert.ok(dispatched >= 4, `${dispatched} kernels ran on the pool at ${rows} rows`);
        }
      }
    } finally {
      mod.threads = before;
    }
  });
}
