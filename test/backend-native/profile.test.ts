// KILN_PROFILE: kiln_run times each kernel when profiling is on (a run-time switch of the same object), into one
// entry per distinct kernel function; the table comes from NativeModule.profile() or, with KILN_PROFILE=1, at exit.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import * as k from "../../src/index.js";
import { randn } from "../../src/index.js";
import { generateProgram } from "../../src/codegen/index.js";
import { formatProfile, hasToolchain, loadNativeModule, loadNativeProgram } from "../../src/backend/index.js";
import { graphOf } from "../codegen/graph-of.js";

const skip = hasToolchain() ? false : "no C compiler / Node headers on this machine";

const graph = () =>
  graphOf([{ name: "x", shape: ["s0", 40] }, { name: "w", shape: [40, 40], kind: "param" }], (x, w) => {
    const h = k.softmax(k.linear(x, w), -1);
    return k.add(k.linear(h, w), x);
  });

test("profiling off counts nothing; on, each kernel's calls and time add up within the forwards'", { skip }, () => {
  const exe = loadNativeProgram(generateProgram(graph(), { native: true }));
  const mod = loadNativeModule(exe.object);
  const inputs = [randn([9, 40], { seed: 1 }), randn([40, 40], { seed: 2 })];
  mod.profiling = false;
  mod.resetProfile();
  exe.run(inputs);
  assert.equal(mod.profile().forwards, 0);
  mod.profiling = true;
  try {
    for (let i = 0; i < 3; i++) exe.run(inputs);
  } finally {
    mod.profiling = false;
  }
  const p = mod.profile();
  assert.equal(p.forwards, 3);
  // Two matmuls, the softmax, the residual add: 4 kernels, run 3 times each.
  assert.deepEqual(p.kernels.map((r) => r.calls), [3, 3, 3, 3]);
  assert.ok(p.kernels.some((r) => /^f\d+_matmul$/.test(r.name) && /^matmul s0x40x40/.test(r.what)), JSON.stringify(p.kernels));
  assert.ok(p.kernels.every((r) => r.ms >= 0) && p.kernels.reduce((a, r) => a + r.ms, 0) <= p.forwardMs);
  const table = formatProfile(p, "test");
  assert.match(table, /^test: 3 forwards/);
  assert.match(table, /kernel\s+calls\s+total ms\s+% forward\s+what/);
  mod.resetProfile();
  assert.deepEqual([mod.profile().forwards, mod.profile().kernels.length], [0, 0]);
});

test("KILN_PROFILE=1 prints the per-kernel table when the process exits", { skip }, () => {
  const script = `
    const k = await import(${JSON.stringify(new URL("../../src/index.js", import.meta.url).href)});
    const f = k.compile((x) => k.softmax(k.mul(x, 2), -1), { backend: "native" });
    f(k.randn([5, 24]));
    f(k.randn([5, 24]));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    env: { ...process.env, KILN_PROFILE: "1", KILN_DISABLE_COMPILE_CACHE: "1" }, encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /kiln profile, object [0-9a-f]{12} \(\d+ threads\): 2 forwards/);
  assert.match(r.stderr, /f0_div\s+2\s+[\d.]+\s+[\d.]+\s+mul max sub exp sum div/);
});
