// The native (C) backend: every op equals the reference; a forward is one native call;
// identical layers compile once; compiler failures are typed; no compiler means the JS backend.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CompileError, CompilerNotFoundError, type Tensor, compile, randn } from "../../src/index.js";
import { NativeBuilder, getToolchain, hasToolchain } from "../../src/backend/index.js";
import { generateProgram } from "../../src/codegen/index.js";
import { runPipeline } from "../../src/passes/index.js";
import { trace } from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { DecoderBlock, TINY_BLOCK, type BlockConfig } from "../nn/decoder-block.js";
import { Module } from "../../src/index.js";
import { checkBackendOnAllOps } from "./check-backend.js";

const skip = hasToolchain() ? false : "no C compiler / Node headers on this machine";

// Float32 accumulation (vs the reference's float64) and libm's expf: a slightly wider atol.
checkBackendOnAllOps("native", { rtol: 1e-5, atol: 1e-5 }, { skip });

test("a native decoder block equals the reference, in exactly one native call per forward", { skip }, () => {
  const block = new DecoderBlock(TINY_BLOCK, 2);
  const f = compile(block, { dynamic: { 0: [0] }, backend: "native" });
  for (const n of [5, 1, 64]) {
    const x = randn([n, TINY_BLOCK.hidden], { seed: n });
    assertAllClose(f(x), block.forward(x), { rtol: 1e-4, atol: 1e-4 });
  }
  assert.equal(f.stats.nativeCalls, 3);
  assert.equal(f.lastCompileReport!.backend, "native");
});

class Stack extends Module {
  layers: DecoderBlock[];
  constructor(cfg: BlockConfig, n: number) {
    super();
    this.layers = Array.from({ length: n }, (_, i) => new DecoderBlock(cfg, 10 * i));
  }
  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}

test("a 4-layer Llama-style model on native equals eager, in one native call per forward", { skip }, () => {
  const model = new Stack(TINY_BLOCK, 4);
  const f = compile(model, { dynamic: { 0: [0] }, backend: "native" });
  for (const n of [7, 1, 33]) {
    const x = randn([n, TINY_BLOCK.hidden], { seed: 40 + n });
    assertAllClose(f(x), model.forward(x), { rtol: 1e-4, atol: 1e-4 });
  }
  assert.equal(f.stats.nativeCalls, 3);
  assert.equal(f.stats.compiles, 1);
});

test("28 identical layers emit no more distinct kernels than 2 layers", () => {
  const functions = (layers: number) => {
    const g = runPipeline(trace(new Stack(TINY_BLOCK, layers), [randn([3, TINY_BLOCK.hidden])], { dynamic: { 0: [0] } }).graph).graph;
    const c = generateProgram(g, { native: true }).c!.source;
    return (c.match(/^KILN_KERNEL void /gm) ?? []).length;
  };
  // Layer 1 computes the RoPE tables and mask that CSE then shares with every later layer.
  const two = functions(2);
  assert.ok(two > 5);
  assert.equal(functions(28), two);
});

test("a bad kernel source is a CompileError with the compiler's stderr and the kept source", { skip }, () => {
  assert.throws(
    () => new NativeBuilder({ target: "portable" }).buildSync("void broken( { this is not C }"),
    (e: unknown) => e instanceof CompileError && /error/.test(e.stderr) && e.sourcePath.endsWith(".c"),
  );
});

test("KILN_CC=/nonexistent: no toolchain, compile() falls back to the JS backend", () => {
  const saved = { cc: process.env.KILN_CC, backend: process.env.KILN_BACKEND };
  process.env.KILN_CC = "/nonexistent";
  delete process.env.KILN_BACKEND;
  try {
    assert.throws(() => getToolchain(), CompilerNotFoundError);
    const block = new DecoderBlock(TINY_BLOCK);
    const g = compile(block);
    const x = randn([4, TINY_BLOCK.hidden]);
    assertAllClose(g(x), block.forward(x), { rtol: 1e-5, atol: 1e-6 });
    assert.equal(g.lastCompileReport!.backend, "js");
  } finally {
    if (saved.cc === undefined) delete process.env.KILN_CC;
    else process.env.KILN_CC = saved.cc;
    if (saved.backend !== undefined) process.env.KILN_BACKEND = saved.backend;
  }
});
