// KILN_CPU_FEATURES simulates a lesser host: it narrows the detected features and never widens them, so no
// setting makes Kiln build or accept code this CPU cannot run (the guard that prevents SIGILL).
import assert from "node:assert/strict";
import { test } from "node:test";
import { TARGET_FEATURES, hasToolchain, hostCpuFeatures, nativeTarget, realCpuFeatures } from "../../src/backend/index.js";
import { KILN_VERSION, aotCompile, loadCompiledFunction } from "../../src/compile/index.js";
import { decodeBundle, encodeBundle } from "../../src/cache/index.js";
import { GuardMismatchError, readEnv } from "../../src/util/index.js";
import { type Tensor, randn } from "../../src/index.js";

function withFeatures<T>(value: string | undefined, body: () => T): T {
  const saved = process.env.KILN_CPU_FEATURES;
  if (value === undefined) delete process.env.KILN_CPU_FEATURES;
  else process.env.KILN_CPU_FEATURES = value;
  try {
    return body();
  } finally {
    if (saved === undefined) delete process.env.KILN_CPU_FEATURES;
    else process.env.KILN_CPU_FEATURES = saved;
    hostCpuFeatures(); // restore the process-wide override to the environment's
  }
}

const CLAIMED = [...new Set([...Object.values(TARGET_FEATURES).flat(), "avx512_bf16", "kiln_no_such_feature"])];

test("KILN_CPU_FEATURES cannot claim features the CPU lacks: neither the target nor the guard widens", () => {
  const real = realCpuFeatures();
  withFeatures(CLAIMED.join(","), () => {
    const host = hostCpuFeatures();
    assert.ok([...host].every((f) => real.has(f)), `${[...host].filter((f) => !real.has(f))} are not this CPU's`);
    assert.equal(host.has("kiln_no_such_feature"), false);
    const { requires } = nativeTarget();
    assert.ok(requires.every((f) => real.has(f)), `the target requires ${requires.filter((f) => !real.has(f))}`);
  });
});

test("KILN_CPU_FEATURES: items trimmed and lower-cased; empty or blank means unset", () => {
  const real = realCpuFeatures();
  const two = [...real].slice(0, 2);
  withFeatures(` ${two[0]!.toUpperCase()} , ${two[1]} `, () => assert.deepEqual([...hostCpuFeatures()].sort(), [...two].sort()));
  for (const blank of ["", " ", ","]) {
    withFeatures(blank, () => {
      assert.equal(readEnv().cpuFeatures, undefined);
      assert.equal(hostCpuFeatures().size, real.size);
    });
  }
});

test("a bundle needing a feature this CPU lacks is refused even when KILN_CPU_FEATURES claims it", { skip: hasToolchain() ? false : "no C compiler" }, () => {
  const f = aotCompile((x: Tensor) => x, [randn([2])], { backend: "native" });
  const { sections } = decodeBundle(f.serialize(), { kilnVersion: KILN_VERSION });
  const manifest = JSON.parse(new TextDecoder().decode(sections.get("manifest")));
  manifest.factors.cpu_features = [...manifest.factors.cpu_features, "kiln_no_such_feature"];
  const forged = encodeBundle(new Map([...sections, ["manifest", new TextEncoder().encode(JSON.stringify(manifest))]]), { kilnVersion: KILN_VERSION });
  withFeatures(CLAIMED.join(","), () => {
    assert.throws(() => loadCompiledFunction(forged), (e: unknown) => e instanceof GuardMismatchError && /kiln_no_such_feature/.test(e.message));
  });
});
