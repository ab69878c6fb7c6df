// Issue 4 acceptance in-process: each key factor alone changes the key (weights do not),
// corrupt or swapped entries are detected, logged, recompiled and replaced, the unpacked
// format round-trips, and a supportsCompile model under fail_on_recompile never takes the JIT path.
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  GuardMismatchError, Linear, Module, type Tensor, UntrustedCacheError, add, computeCacheKey, counters, keyFactors, loadOrCompile, mul, randn, setLogSink, setStance, supportsCompile,
} from "../../src/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { TARGET_FEATURES, hasToolchain } from "../../src/backend/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-factors-"));
const savedEnv = { ...process.env };
const logs: string[] = [];
let restore: ReturnType<typeof setLogSink>;
before(() => {
  process.env.KILN_CACHE_DIR = dir;
  restore = setLogSink((l) => logs.push(l));
});
after(() => {
  setLogSink(restore);
  process.env = savedEnv;
  rmSync(dir, { recursive: true, force: true });
});

class Net extends Module {
  readonly config = { width: 4, eps: 1e-6 };
  lin = new Linear(4, 4, { seed: 1 });
  forward(x: Tensor): Tensor {
    return add(this.lin.forward(x), 1);
  }
}
class NetOtherSource extends Net {
  override forward(x: Tensor): Tensor {
    return mul(this.lin.forward(x), 1);
  }
}

const key = (m: Module, opts: Parameters<typeof keyFactors>[2] = {}) => computeCacheKey(keyFactors(m, [randn([2, 4])], { dynamic: { 0: [0] }, ...opts }, "js")).key;

test("each key factor changed alone changes the key; weights do not", () => {
  // Native: the ISA level objects are compiled for (what the compiler flags derive from) is a factor.
  if (hasToolchain()) {
    const native = (features?: string) => {
      const saved = process.env.KILN_CPU_FEATURES;
      if (features === undefined) delete process.env.KILN_CPU_FEATURES;
      else process.env.KILN_CPU_FEATURES = features;
      try {
        return computeCacheKey(keyFactors(new Net(), [randn([2, 4])], { dynamic: { 0: [0] } }, "native")).key;
      } finally {
        if (saved === undefined) delete process.env.KILN_CPU_FEATURES;
        else process.env.KILN_CPU_FEATURES = saved;
      }
    };
    assert.notEqual(native(TARGET_FEATURES.avx2.join(",")), native(TARGET_FEATURES.avx512.join(",")), "isa");
  }
  const base = key(new Net());
  const variants: Record<string, string> = {
    config: key(Object.assign(new Net(), { config: { width: 4, eps: 1e-3 } })),
    dynamic_dims: computeCacheKey(keyFactors(new Net(), [randn([2, 4])], {}, "js")).key,
    compile_sizes: key(new Net(), { compileSizes: [1, 8] }),
    source: key(new NetOtherSource()),
    rank: key(new Net(), { rank: 1, worldSize: 2 }),
    prefix: key(new Net(), { prefix: "other" }),
    backend: computeCacheKey(keyFactors(new Net(), [randn([2, 4])], { dynamic: { 0: [0] } }, "native")).key,
  };
  for (const [factor, k] of Object.entries(variants)) assert.notEqual(k, base, factor);
  // The factors themselves: what no test can change in-process is still part of the key.
  const factors = keyFactors(new Net(), [randn([2, 4])], { dynamic: { 0: [0] } }, "js");
  for (const f of ["kiln_version", "format_version", "compiler_code", "node_abi", "os", "arch"]) assert.ok(f in factors, f);
  for (const [f, v] of [["format_version", 99], ["compiler_code", "another compiler"], ["kiln_version", "9.9.9"]] as const) {
    assert.notEqual(computeCacheKey({ ...factors, [f]: v }).key, computeCacheKey(factors).key, f);
  }
  const reweighted = new Net();
  reweighted.loadStateDict({ "lin.weight": randn([4, 4], { seed: 9 }) });
  assert.equal(key(reweighted), base);
});

function bundlePath(): string {
  const found = (readdir(join(dir, "aot")) as string[]).filter((f) => f.endsWith("model.kiln"));
  assert.equal(found.length, 1);
  return join(dir, "aot", found[0]!);
}
const readdir = (p: string) => readdirSync(p, { recursive: true }).map(String);

test("a corrupt entry is logged, recompiled and replaced; a swapped entry is refused", () => {
  rmSync(join(dir, "aot"), { recursive: true, force: true });
  const net = new Net();
  const x = randn([3, 4], { seed: 2 });
  const first = loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js" });
  const path = bundlePath();
  const good = readFileSync(path);
  for (const damage of [(b: Buffer) => b.subarray(0, b.length >> 1), (b: Buffer) => { const c = Buffer.from(b); c[c.length - 3] ^= 0xff; return c; }]) {
    writeFileSync(path, damage(good));
    logs.length = 0;
    const again = loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js" });
    assert.equal(again.source, "compiled");
    assert.ok(logs.some((l) => /cache miss for model: cached bundle is unusable: bundle .*(truncat|checksum|past the end|out of place)/.test(l)), logs.join("\n"));
    assertAllClose(again.fn.call(x) as Tensor, first.fn.call(x) as Tensor);
    // The entry was replaced by a good bundle: the next start loads it.
    assert.equal(loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js" }).source, "loaded");
  }
  // Another key's bundle copied over this entry: its stored factors do not match, so it is refused.
  const other = loadOrCompile(new NetOtherSource(), [x], { dynamic: { 0: [0] }, backend: "js" });
  assert.equal(other.source, "compiled");
  const otherPath = readdir(join(dir, "aot")).map((f) => join(dir, "aot", f)).find((f) => f.endsWith("model.kiln") && f !== path)!;
  copyFileSync(otherPath, path);
  logs.length = 0;
  const swapped = loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js" });
  assert.equal(swapped.source, "compiled");
  assert.ok(logs.some((l) => /unusable: .*guard source failed/.test(l)), logs.join("\n"));
  assertAllClose(swapped.fn.call(x) as Tensor, net.forward(x));
});

test("the unpacked format writes readable files and loads", () => {
  process.env.KILN_AOT_FORMAT = "unpacked";
  try {
    const net = new Net();
    const x = randn([2, 4]);
    const cold = loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js", prefix: "unpacked" });
    assert.equal(cold.source, "compiled");
    const folder = readdir(join(dir, "aot")).map((f) => join(dir, "aot", f)).find((f) => f.endsWith("unpacked/model.kiln.d"))!;
    for (const f of ["manifest.json", "graph.json", "program.json", "kernels/program.js", "kernels/loop-ir.json", "sections.json"]) assert.ok(existsSync(join(folder, f)), f);
    assert.match(readFileSync(join(folder, "kernels/program.js"), "utf8"), /function /);
    const warm = loadOrCompile(net, [x], { dynamic: { 0: [0] }, backend: "js", prefix: "unpacked" });
    assert.equal(warm.source, "loaded");
    assertAllClose(warm.fn.call(x) as Tensor, net.forward(x));
  } finally {
    delete process.env.KILN_AOT_FORMAT;
  }
});

test("acceptance 1: with AOT on and fail_on_recompile, a supportsCompile model never takes the JIT path", () => {
  const Compiled = supportsCompile(Net, { dynamicArgDims: { 0: [0] }, prefix: "acc1", backend: "js" });
  const model = new Compiled();
  setStance("fail_on_recompile");
  try {
    const before = counters();
    for (const n of [3, 1, 17]) {
      const x = randn([n, 4], { seed: n });
      assertAllClose(model.forward(x), new Net().forward(x));
    }
    assert.equal(counters().traces - before.traces, 1, "one trace for the first compile, none after");
  } finally {
    setStance("default");
  }
});

// A forward whose behaviour depends on code outside its own text: the static fingerprint cannot see it.
let helper = (t: Tensor): Tensor => add(t, 1);
class Indirect extends Module {
  lin = new Linear(4, 4, { seed: 3 });
  forward(x: Tensor): Tensor {
    return helper(this.lin.forward(x));
  }
}

test("KILN_AOT_VERIFY=1 catches a stale hit the key could not see (a changed helper function)", () => {
  const x = randn([2, 4]);
  const opts = { dynamic: { 0: [0] }, backend: "js" as const, prefix: "verify" };
  loadOrCompile(new Indirect(), [x], opts);
  helper = (t: Tensor) => mul(t, 3);
  try {
    // Without verification the stale bundle is used: same key, old graph.
    assert.equal(loadOrCompile(new Indirect(), [x], opts).source, "loaded");
    process.env.KILN_AOT_VERIFY = "1";
    assert.throws(() => loadOrCompile(new Indirect(), [x], opts), (e: unknown) => e instanceof GuardMismatchError && e.guard === "graph_hash" && /KILN_AOT_VERIFY/.test(e.message));
  } finally {
    delete process.env.KILN_AOT_VERIFY;
    helper = (t: Tensor) => add(t, 1);
  }
});

test("a cache folder writable by other users is refused unless overridden", () => {
  const open = mkdtempSync(join(tmpdir(), "kiln-open-"));
  chmodSync(open, 0o777);
  const saved = process.env.KILN_CACHE_DIR;
  process.env.KILN_CACHE_DIR = open;
  try {
    assert.throws(() => loadOrCompile(new Net(), [randn([2, 4])], { backend: "js" }), (e: unknown) => e instanceof UntrustedCacheError && e.path === open);
    process.env.KILN_CACHE_ALLOW_INSECURE = "1";
    assert.equal(loadOrCompile(new Net(), [randn([2, 4])], { backend: "js" }).source, "compiled");
  } finally {
    delete process.env.KILN_CACHE_ALLOW_INSECURE;
    process.env.KILN_CACHE_DIR = saved;
    rmSync(open, { recursive: true, force: true });
  }
});
