// The toolchain: compiler discovery, CPU features and targets, the content-addressed build cache, compile failures.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { test } from "node:test";
import {
  NativeBuilder, TARGET_FEATURES, bestNativeTarget, detectCpuFeatures, findCCompiler,
  hasCCompiler, parseCpuFeatures, setCpuFeaturesOverride, targetFlags, targetRequiredFeatures,
} from "../../src/backend/native/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { CompileError, CompilerNotFoundError } from "../../src/util/index.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

/** A small object (plain C, no runtime: the store is what is tested); `tag` makes its source distinct. */
const tiny = (tag: string) => `int kiln_tiny(int x) { return 2 * x; } /* ${tag} */\n`;
const BAD = `${tiny("bad")}\nstatic void broken( { this is not C }\n`;

function withEnv<T>(name: string, value: string | undefined, fn: () => T): T {
  const saved = process.env[name];
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

test("the compiler is found with its identity: resolved path, --version line, version, target triple", { skip }, () => {
  const cc = findCCompiler();
  assert.ok(isAbsolute(cc.path) && existsSync(cc.path));
  assert.ok(cc.identity.length > 0);
  assert.match(cc.version, /^\d+(\.\d+)*$/);
  assert.match(cc.triple, /^[a-z0-9_]+-/);
  assert.equal(findCCompiler(), cc, "probed once per process");
});

test("KILN_CC=/nonexistent is a CompilerNotFoundError naming it, for discovery and for builders", () => {
  withEnv("KILN_CC", "/nonexistent", () => {
    assert.throws(() => findCCompiler(), (e: unknown) => e instanceof CompilerNotFoundError && e.tried.includes("/nonexistent"));
    assert.throws(() => new NativeBuilder(), CompilerNotFoundError);
    assert.equal(hasCCompiler(), false);
  });
});

test("CPU features come from /proc/cpuinfo and an override picks the target", () => {
  const sample = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 FMA f16c\n";
  assert.deepEqual([...parseCpuFeatures(sample)], ["fpu", "sse2", "avx", "avx2", "fma", "f16c"]);
  try {
    setCpuFeaturesOverride(TARGET_FEATURES.avx2);
    assert.equal(bestNativeTarget(detectCpuFeatures(), "x64"), "avx2");
    setCpuFeaturesOverride([...TARGET_FEATURES.avx512, "avx512_bf16"]);
    assert.equal(bestNativeTarget(detectCpuFeatures(), "x64"), "avx512-bf16");
    setCpuFeaturesOverride(["sse2"]);
    assert.equal(bestNativeTarget(detectCpuFeatures(), "x64"), "portable");
    assert.equal(bestNativeTarget(new Set(TARGET_FEATURES["avx512-bf16"]), "arm64"), "portable");
  } finally {
    setCpuFeaturesOverride(undefined);
  }
  assert.deepEqual(targetFlags("avx2", "x64"), ["-march=x86-64-v3", "-mno-lzcnt"]);
  assert.deepEqual(targetFlags("avx512-bf16", "x64"), ["-march=x86-64-v4", "-mavx512bf16", "-mno-lzcnt"]);
  assert.ok(targetRequiredFeatures("avx512", new Set()).includes("avx512bw"));
  assert.ok(targetRequiredFeatures("native", new Set(["avx2", "hypervisor", "fma"])).join() === "avx2,fma");
});

test("a builder follows overridden features: its target, flags and keys change", { skip }, () => {
  try {
    setCpuFeaturesOverride(TARGET_FEATURES.avx2);
    const avx2 = new NativeBuilder();
    assert.equal(avx2.target, process.arch === "x64" ? "avx2" : "portable");
    setCpuFeaturesOverride([]);
    const portable = new NativeBuilder();
    assert.equal(portable.target, "portable");
    if (process.arch === "x64") {
      assert.ok(avx2.flags.includes("-march=x86-64-v3"));
      assert.notEqual(avx2.objectKey("int x;"), portable.objectKey("int x;"));
    }
    assert.notEqual(portable.objectKey("int x;"), portable.objectKey("int y;"));
    assert.equal(portable.objectKey("int x;"), new NativeBuilder({ target: "portable" }).objectKey("int x;"));
  } finally {
    setCpuFeaturesOverride(undefined);
  }
});

test("identical sources compile once, distinct sources once each, in parallel processes", { skip }, async () => {
  const b = new NativeBuilder({ jobs: 2 });
  const [x1, x2] = await b.buildMany([tiny("x"), tiny("x")]);
  assert.equal(b.compilerInvocations, 1);
  assert.equal(x1!.sha256, x2!.sha256);
  assert.equal(x1!.compiled, true);
  assert.equal((await b.build(tiny("x"))).compiled, false);
  assert.equal(b.compilerInvocations, 1);
  const objs = await b.buildMany([tiny("a"), tiny("b"), tiny("c"), tiny("a")]);
  assert.equal(b.compilerInvocations, 4);
  assert.equal(new Set(objs.map((o) => o.sha256)).size, 3);
  assert.ok(objs.every((o) => existsSync(join(b.store.dir, `${o.key}.ref`)) && existsSync(join(b.store.dir, `${o.sha256}.so`))));
  // The synchronous path shares the cache and also runs distinct compiles side by side.
  const sync = b.buildManySync([tiny("b"), tiny("d"), tiny("e")]);
  assert.deepEqual(sync.map((o) => o.compiled), [false, true, true]);
  assert.equal(b.compilerInvocations, 6);
  // A second builder on the same store finds the verified objects on disk.
  const again = new NativeBuilder({ store: b.store });
  assert.equal(again.buildSync(tiny("d")).compiled, false);
  assert.equal(again.compilerInvocations, 0);
});

test("a bad source is a CompileError with the compiler's stderr and a kept source file, sync or async", { skip }, async () => {
  const b = new NativeBuilder();
  const check = (e: unknown) => {
    assert.ok(e instanceof CompileError, String(e));
    assert.match(e.stderr, /error/);
    assert.ok(existsSync(e.sourcePath), "the source is kept");
    assert.equal(readFileSync(e.sourcePath, "utf8"), BAD);
    return true;
  };
  assert.throws(() => b.buildSync(BAD), check);
  await assert.rejects(b.build(BAD), check);
  // One good and one bad source in the same batch: the good one is built, the batch reports the failure.
  await assert.rejects(b.buildMany([tiny("good"), BAD]), CompileError);
  assert.equal(b.buildSync(tiny("good")).compiled, false);
  assert.equal(b.compilerInvocations, 4);
});
