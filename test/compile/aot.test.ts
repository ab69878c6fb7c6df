import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import {
  BundleCorruptError, CompiledFunction, GuardMismatchError, type Tensor, aotCompile, add, mul, counters, loadCompiledFunction, randn, setStance,
} from "../../src/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";
import { assertAllClose } from "../helpers/assert-close.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-aot-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const childScript = fileURLToPath(new URL(`./aot-child${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));

function runChild(bundle: string, seed: number, tokens: number, env: Record<string, string> = {}) {
  const out = execFileSync(process.execPath, [...process.execArgv, childScript, bundle, String(seed), String(tokens)], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  return JSON.parse(out) as { values: number[]; counters: Record<string, number>; backend: string };
}

for (const backend of ["js", "native"] as const) {
  const skip = backend === "native" && !hasToolchain() ? "no C compiler" : false;

  test(`${backend}: a bundle loaded in another process equals the first bit for bit, with zero traces and compiles`, { skip }, () => {
    const block = new DecoderBlock(TINY_BLOCK, 4);
    const f = aotCompile(block, [randn([5, TINY_BLOCK.hidden])], { dynamic: { 0: [0] }, backend });
    const x = randn([9, TINY_BLOCK.hidden], { seed: 99 });
    const here = f.call(x) as Tensor;
    const path = join(dir, `block-${backend}.kiln`);
    writeFileSync(path, f.serialize());
    const child = runChild(path, 4, 9);
    assert.equal(child.backend, backend);
    assert.deepEqual(child.values, Array.from(here.values()));
    for (const c of ["traces", "pipelines", "codegens", "compilerInvocations"]) assert.equal(child.counters[c], 0, c);
    assert.equal(child.counters.bundlesLoaded, 1);
  });

  test(`${backend}: changing only the weights keeps the bundle valid and uses the new weights`, { skip }, () => {
    const f = aotCompile(new DecoderBlock(TINY_BLOCK, 4), [randn([5, TINY_BLOCK.hidden])], { dynamic: { 0: [0] }, backend });
    const other = new DecoderBlock(TINY_BLOCK, 77);
    const before = counters();
    const g = loadCompiledFunction(f.serialize(), { module: other });
    const x = randn([6, TINY_BLOCK.hidden], { seed: 3 });
    setStance("fail_on_recompile");
    try {
      assertAllClose(g.call(x) as Tensor, other.forward(x), { rtol: 1e-4, atol: 1e-4 });
    } finally {
      setStance("default");
    }
    const after = counters();
    assert.equal(after.traces, before.traces);
    assert.equal(after.codegens, before.codegens);
    assert.equal(after.compilerInvocations, before.compilerInvocations);
  });
}

test("a bundle is refused on a CPU lacking a feature its code uses, naming the feature", { skip: hasToolchain() ? false : "no C compiler" }, () => {
  const f = aotCompile((x: Tensor) => x, [randn([2])], { backend: "native" });
  const bytes = f.serialize();
  const used = f.manifest.factors.cpu_features as string[];
  assert.ok(used.length > 0);
  const saved = process.env.KILN_CPU_FEATURES;
  process.env.KILN_CPU_FEATURES = used.filter((x) => x !== used[used.length - 1]).join(",");
  try {
    assert.throws(() => loadCompiledFunction(bytes), (e: unknown) => e instanceof GuardMismatchError && e.message.includes(used[used.length - 1]!));
  } finally {
    if (saved === undefined) delete process.env.KILN_CPU_FEATURES;
    else process.env.KILN_CPU_FEATURES = saved;
  }
});

test("corrupt bundles are detected before any code runs", () => {
  const f = aotCompile((x: Tensor) => x, [randn([2])], { backend: "js" });
  const bytes = f.serialize();
  for (const n of [0, 10, 100, bytes.length - 1]) assert.throws(() => loadCompiledFunction(bytes.subarray(0, n)), BundleCorruptError);
  const flipped = bytes.slice();
  flipped[bytes.length - 5] ^= 1;
  // Near the end lie the graph and loop-IR sections: verified too, though the warm path never parses them.
  assert.throws(() => loadCompiledFunction(flipped), (e: unknown) => e instanceof BundleCorruptError && ["graph", "kernels"].includes(e.section));
});

test("an AOT function and a loaded one are callables equal to the original", () => {
  const original = (x: Tensor) => mul(add(x, 1), x);
  const f = aotCompile(original, [randn([3])], { backend: "js", dynamic: { 0: [0] } });
  const g = loadCompiledFunction(f.serialize());
  const x = randn([5], { seed: 8 });
  assertAllClose(f(x) as Tensor, original(x));
  assertAllClose(g(x) as Tensor, original(x));
  assert.deepEqual(Array.from((g(x) as Tensor).values()), Array.from((g.call(x) as Tensor).values()));
  assert.ok(g instanceof CompiledFunction);
  assert.equal(g.manifest.prefix, "model");
});

test("an input breaking a guard of an AOT function is a typed error, never a recompile", () => {
  const f = aotCompile((x: Tensor) => x, [randn([2, 3])], { backend: "js", dynamic: { 0: [0] } });
  assert.equal((f.call(randn([7, 3])) as Tensor).dims[0], 7);
  assert.throws(() => f.call(randn([7, 4])), (e: unknown) => e instanceof GuardMismatchError && /shape\[1\]/.test(e.guard));
});
