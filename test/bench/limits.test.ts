// bench/limits.ts: a ratio above 1 fails a benchmark, the limits JSON carries every probe, the probes compute what
// they claim on every target this host runs, and bench llm counts a decode step's bytes right. No time is asserted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { getPreset, parseHfConfig, presetConfig } from "../../src/models/index.js";
import {
  BANDWIDTH_PROBES, type LimitFigures, bestOf, checkRatios, limitModule, limitProbes, limitsJson, limitsOf, ofBandwidth, ofPeak,
} from "../../bench/limits.js";
import { decodeBytesPerToken, kvBytesPerToken, weightBytesPerToken } from "../../bench/llm.js";
import { testedTargets } from "../backend-native/kernel-entry.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";

const figures: LimitFigures = {
  threads: 2,
  isa: "avx512",
  bufferBytes: 256 * 2 ** 20,
  chunkBytes: 32 * 2 ** 20,
  probes: { read: { 1: 14, 2: 24 }, read_l2: { 1: 15, 2: 23 }, read_nt: { 1: 13, 2: 22 }, read_4s: { 1: 14, 2: 24 }, copy: { 1: 12, 2: 20 }, triad: { 1: 13, 2: 25 } },
  fmaPeak: { 1: 177, 2: 170 },
};

test("the bandwidth is the best probe at any thread count, the peak the best thread count", () => {
  const l = limitsOf(figures);
  assert.equal(l.bandwidthGBs, 25);
  assert.equal(l.bandwidthBest, "triad, 2 threads");
  assert.equal(l.peakGflops, 177);
  assert.equal(l.dotPeakGflops, undefined);
});

test("bestOf keeps each figure's best of two measurements", () => {
  const later: LimitFigures = { ...figures, probes: { ...figures.probes, read: { 1: 16, 2: 27 } }, fmaPeak: { 1: 150, 2: 180 } };
  const l = bestOf(figures, later);
  assert.deepEqual(l.probes.read, { 1: 16, 2: 27 });
  assert.deepEqual(l.probes.triad, { 1: 13, 2: 25 });
  assert.deepEqual(l.fmaPeak, { 1: 177, 2: 180 });
  assert.equal(l.bandwidthGBs, 27);
  assert.equal(l.bandwidthBest, "read, 2 threads");
});

test("the limits JSON has the bandwidth of every probe at 1 and 2 threads and the FMA peak at both", () => {
  const json = limitsJson(limitsOf({ ...figures, dotPeak: { 1: 350, 2: 340 } })) as {
    bandwidth_gbs: Record<string, unknown>; fma_peak_gflops: Record<string, number>; bf16dot_peak_gflops: Record<string, number>; threads: number;
  };
  assert.equal(json.threads, 2);
  assert.equal(json.bandwidth_gbs.max, 25);
  assert.equal(json.bandwidth_gbs.best, "triad, 2 threads");
  for (const p of BANDWIDTH_PROBES) assert.deepEqual(Object.keys(json.bandwidth_gbs[p] as object), ["1t", "2t"], p);
  assert.deepEqual(json.bandwidth_gbs.read, { "1t": 14, "2t": 24 });
  assert.deepEqual(json.fma_peak_gflops, { max: 177, "1t": 177, "2t": 170 });
  assert.deepEqual(json.bf16dot_peak_gflops, { max: 350, "1t": 350, "2t": 340 });
});

test("a ratio above 1 fails with a line naming the ratio and the limit; at or below 1 it passes", () => {
  const l = limitsOf(figures);
  const over = ofBandwidth(l, "bf16 decode at context 128", 28);
  assert.equal(over.ratio, 28 / 25);
  assert.deepEqual(checkRatios([over]), ["bench: bf16 decode at context 128 at 1.12 of the bandwidth: the bandwidth limit (triad, 2 threads: 25.0 GB/s) is too low"]);
  assert.deepEqual(checkRatios([ofBandwidth(l, "gemv", 24.9), ofBandwidth(l, "gemv", 25), ofPeak(l, "gemm", 150)]), []);
  const [line] = checkRatios([ofPeak(l, "prefill of 128 tokens", 190)]);
  assert.match(line!, /^bench: prefill of 128 tokens at 1\.07 of the FMA peak: the f32 FMA peak \(1t 177, 2t 170 GFLOP\/s\) is too low$/);
  assert.deepEqual(checkRatios([{ what: "warm start", ratio: NaN, of: "-", limit: "-" }]), []);
});

test("a vdpbf16ps kernel is held to the vdpbf16ps peak where the target has it, else to the f32 FMA peak", () => {
  const withDot = limitsOf({ ...figures, dotPeak: { 1: 350, 2: 340 } });
  assert.equal(ofPeak(withDot, "gemm_nt_bf16dot", 280, true).ratio, 0.8);
  assert.equal(checkRatios([ofPeak(limitsOf(figures), "gemm_nt_bf16dot", 280, true)]).length, 1);
});

test("decode bytes: bf16 weights 2 bytes, the embedding one row, the LM head whole, K and V of the context (qwen3-0.6b)", () => {
  const c = parseHfConfig(presetConfig(getPreset("qwen3-0.6b"), "bf16"));
  const [h, layers, vocab] = [1024, 28, 151_936];
  const layer = 2048 * 1024 * 2 + 1024 * 1024 * 2 + 3 * 3072 * 1024 + 2 * h + 2 * 128; // matmuls, two norms, q/k norms
  assert.equal(weightBytesPerToken(c, 2), (layers * layer + h /* final norm */ + h /* embedding row */ + vocab * h /* tied LM head */) * 2);
  assert.equal(kvBytesPerToken(c, 128), layers * 2 * 128 * 8 * 128 * 4);
  // 16 steps after a 128-token prompt attend to 129…144 positions: 136.5 on average.
  assert.equal(decodeBytesPerToken(c, 2, 128, 16), weightBytesPerToken(c, 2) + kvBytesPerToken(c, 136.5));
});

test("the probes compute what they claim on every target this host runs (odd sizes, 1 and 2 threads)", { skip }, async () => {
  const targets = testedTargets();
  const modules = await Promise.all(targets.map((t) => limitModule(t)));
  for (const [i, target] of targets.entries()) {
    const mod = modules[i]!;
    const n = 3 * 1024 + 37;
    const a = new Float32Array(n);
    const b = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const c = Float32Array.from({ length: n }, (_, i) => (i % 5) * 0.5);
    const out = new Float64Array(256);
    for (const threads of [1, 2]) {
      mod.threads = threads;
      const flops = new Float64Array(1);
      mod.call("limit_peak", [out, flops], [100, 0]);
      assert.equal(flops[0], 12 * 2 * { avx512: 16, avx2: 8, portable: 4 }[mod.isa], `${target}: FMA flops per iteration`);
      assert.ok(out.slice(0, threads).every(Number.isFinite));
      mod.call("limit_peak", [out, flops], [100, 1]);
      assert.equal(flops[0], mod.bf16dot ? 12 * 4 * 16 : 0, `${target}: vdpbf16ps flops per iteration`);
      for (const hint of [0, 1, 2, 3]) {
        out.fill(0);
        mod.call("limit_read", [b, out], [n, hint]);
        const sum = out.slice(0, threads).reduce((x, y) => x + y, 0);
        assert.equal(sum, b.reduce((x, y) => x + y, 0), `${target}: read (hint ${hint}) on ${threads} threads`);
      }
      a.fill(0);
      mod.call("limit_stream", [a, b, c], [n, 0]);
      assert.deepEqual(a, b, `${target}: copy on ${threads} threads`);
      mod.call("limit_stream", [a, b, c], [n, 1]);
      assert.deepEqual(a, b.map((x, i) => x + 3 * c[i]!), `${target}: triad on ${threads} threads`);
    }
  }
});

test("measured limits carry every probe at 1 and 2 threads and positive peaks", { skip }, async () => {
  const probes = await limitProbes();
  const l = probes.measure({ seconds: 0.01, bufferBytes: 2 ** 20 });
  for (const p of BANDWIDTH_PROBES) {
    assert.deepEqual(Object.keys(l.probes[p]), l.threads > 1 ? ["1", String(l.threads)] : ["1"], p);
    for (const gbs of Object.values(l.probes[p])) assert.ok(gbs > 0 && Number.isFinite(gbs), `${p}: ${gbs}`);
  }
  assert.ok(l.bandwidthGBs > 0 && l.peakGflops > 0);
  assert.equal(l.bandwidthGBs, Math.max(...BANDWIDTH_PROBES.flatMap((p) => Object.values(l.probes[p]))));
  assert.deepEqual(probes.best, l);
  probes.measurePeaks(0.01);
  assert.ok(probes.best.peakGflops >= l.peakGflops && probes.best.bandwidthGBs === l.bandwidthGBs);
  probes.measureBandwidth(0.01);
  assert.ok(probes.best.bandwidthGBs >= l.bandwidthGBs && probes.best.bufferBytes === 2 ** 20);
  assert.ok(probes.hotReadGBs(64 * 1024) > 0);
  const hot = probes.ofHotRead(l, "a hot kernel", 1, 64 * 1024);
  assert.ok(hot.ratio > 0 && hot.ratio <= 1 / l.bandwidthGBs, hot.limit);
});
