// The loop IR's text form, pinned for a few representative graphs (golden files).
import { test } from "node:test";
import * as k from "../../src/index.js";
import { generateProgram, kernelsFromJSON, printKernel } from "../../src/codegen/index.js";
import { assertGolden } from "../helpers/golden.js";
import { graphOf } from "./graph-of.js";

const text = (g: k.Graph) => kernelsFromJSON(generateProgram(g).kernels).map(printKernel).join("\n\n") + "\n";

test("loop IR text: softmax over rows and rms_norm", () => {
  const g = graphOf([{ name: "x", shape: ["s0", 16] }, { name: "w", shape: [16], kind: "param" }], (x, w) => [k.softmax(x, -1), k.rmsNorm(x, w, 1e-6)]);
  assertGolden(text(g), "codegen-softmax-rmsnorm.txt");
});

test("loop IR text: linear with bias and SiLU, embedding lookup, causal mask", () => {
  const g = graphOf(
    [{ name: "ids", shape: ["s0"], dtype: "i32" }, { name: "emb", shape: [11, 8], kind: "param" }, { name: "w", shape: [4, 8], kind: "param" }, { name: "b", shape: [4], kind: "param" }],
    (ids, emb, w, b) => {
      const h = k.silu(k.linear(k.embedding(ids, emb), w, b));
      const s = ids.shape[0]!;
      const mask = k.triu(k.full([s, s], -Infinity), 1);
      return k.add(k.matmul(h, k.transpose(h)), mask);
    },
  );
  assertGolden(text(g), "codegen-linear-embedding-mask.txt");
});
