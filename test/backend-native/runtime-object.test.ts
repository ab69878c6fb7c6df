// The native runtime is compiled once per builder (target, compiler, flags) into relocatable objects and linked into
// every program's object: a second program compiles only its own code, and each object keeps its own runtime state.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import {
  NativeBuilder, RUNTIME_UNITS, assembleNativeSource, hasToolchain, loadNativeModule, runtimeInputs,
} from "../../src/backend/index.js";
import { compile, counters, randn } from "../../src/index.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

/** A program that reports its object's thread count; `tag` makes its source distinct. */
const program = (tag: string) =>
  assembleNativeSource({
    code: `static void kiln_run(void** bufs, const int64_t* syms) { (void)syms; ((double*)bufs[0])[0] = kiln_num_threads(); } /* ${tag} */`,
    entries: [{ name: "run", symbol: "kiln_run", buffers: 1 }],
  });

test("one builder compiles the runtime once: a second program compiles only its own code", { skip }, () => {
  const b = new NativeBuilder({ jobs: 2 });
  const rt = runtimeInputs(b);
  assert.equal(b.compilerInvocations, RUNTIME_UNITS.length, "one compile per runtime unit");
  assert.ok(rt.linkWith!.every((o) => o.bytes[16] === 1), "relocatable objects (ELF type ET_REL)");
  const first = b.buildSync(program("first"), rt);
  assert.equal(b.compilerInvocations, RUNTIME_UNITS.length + 1);
  const second = b.buildSync(program("second"), runtimeInputs(b));
  assert.equal(b.compilerInvocations, RUNTIME_UNITS.length + 2, "the runtime objects are reused");
  assert.equal(new NativeBuilder({ store: b.store }).buildSync(program("first"), runtimeInputs(b)).compiled, false);

  // Each object has its own pool (set on one, unchanged on the other) and exports nothing but its N-API init.
  const [a, c] = [loadNativeModule(first), loadNativeModule(second)];
  a.threads = 3;
  c.threads = 1;
  const out = new Float64Array(1);
  a.run([out]);
  assert.equal(out[0], 3);
  c.run([out]);
  assert.equal(out[0], 1);
  const file = join(mkdtempSync(join(tmpdir(), "kiln-nm-")), "first.so");
  writeFileSync(file, first.bytes);
  const exported = execFileSync("nm", ["-D", "--defined-only", file], { encoding: "utf8" });
  rmSync(dirname(file), { recursive: true, force: true });
  assert.match(exported, /napi_register_module_v1/);
  assert.doesNotMatch(exported, /kiln_/, "runtime functions stay hidden");
});

test("other flags build other runtime objects, and a program's key follows the runtime it links", { skip }, () => {
  const b = new NativeBuilder({ jobs: 2 });
  const rt = runtimeInputs(b);
  const other = new NativeBuilder({ store: b.store, target: b.target, extraFlags: ["-DKILN_NT_KC=512"] });
  const rtOther = runtimeInputs(other);
  assert.equal(other.compilerInvocations, RUNTIME_UNITS.length, "a flag change rebuilds the runtime");
  assert.notDeepEqual(rtOther.linkWith!.map((o) => o.key), rt.linkWith!.map((o) => o.key));
  assert.notEqual(b.objectKey(program("p"), rt), b.objectKey(program("p"), rtOther));
  assert.notEqual(b.objectKey(program("p"), rt), b.objectKey(program("p")));
});

test("two models compiled on the native backend compile the runtime once", { skip }, () => {
  const saved = process.env.KILN_CACHE_DIR;
  const cache = mkdtempSync(join(tmpdir(), "kiln-runtime-once-"));
  process.env.KILN_CACHE_DIR = cache;
  try {
    const x = randn([3, TINY_BLOCK.hidden], { seed: 1 });
    const invocations = () => counters().compilerInvocations;
    const before = invocations();
    compile(new DecoderBlock(TINY_BLOCK, 1), { dynamic: { 0: [0] }, backend: "native" })(x);
    assert.equal(invocations() - before, RUNTIME_UNITS.length + 1, "the runtime's units and the first model");
    compile(new DecoderBlock({ ...TINY_BLOCK, intermediate: 2 * TINY_BLOCK.intermediate }, 2), { dynamic: { 0: [0] }, backend: "native" })(x);
    assert.equal(invocations() - before, RUNTIME_UNITS.length + 2, "the second model compiles only its own code");
  } finally {
    if (saved === undefined) delete process.env.KILN_CACHE_DIR;
    else process.env.KILN_CACHE_DIR = saved;
    rmSync(cache, { recursive: true, force: true });
  }
});
