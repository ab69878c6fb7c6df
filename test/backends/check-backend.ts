// Checks one backend against the reference on every op case.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Graph, compile, interpret, trace } from "../../src/index.js";
import { assertAllClose, type Tolerance } from "../helpers/assert-close.js";
import { CASES } from "./op-cases.js";

export function checkBackendOnAllOps(backend: "js" | "native", tol: Tolerance, options: { skip?: string | false } = {}): void {
  for (const [op, c] of Object.entries(CASES)) {
    test(`${backend} backend equals reference: ${op}`, { skip: options.skip ?? false }, () => {
      const dynamic = Object.fromEntries((c.dynamicArgs ?? [0]).map((i) => [i, c.dynamicDims ?? [0]]));
      const compiled = compile(c.fn, { ...(c.dynamic ? { dynamic } : {}), backend });
      for (const n of [3, 1, 17, 129]) {
        const args = c.args(n);
        assertAllClose(compiled(...args), c.fn(...args), tol);
      }
      assert.equal(compiled.stats.compiles, 1, "dynamic dims must not recompile");
      const args = c.args(3);
      const g = trace(c.fn, args, { dynamic }).graph;
      assert.equal(Graph.fromJSON(JSON.parse(JSON.stringify(g.toJSON()))).toString(), g.toString(), "JSON round trip");
      assertAllClose(compiled(...args), interpret(g, args)[0]!, tol);
    });
  }
}
