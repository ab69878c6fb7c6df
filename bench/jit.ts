// `npm run bench -- jit`: a Llama-style decoder block at 128 tokens × hidden 1024 —
// eager (reference kernels) vs compiled JS (and native), and the compile time split by phase; GFLOP/s as a ratio to
// the FMA peak (bench/limits.ts, measured before and after).
import { compile, randn } from "../src/index.js";
import { hasToolchain } from "../src/backend/index.js";
import { BENCH_BLOCK, DecoderBlock } from "../test/nn/decoder-block.js";
import { type LimitRatio, failOnBrokenLimits, limitProbes, limitsJson, limitsRows, ofPeak } from "./limits.js";
import { printJsonLine, printTable, timeMs } from "./report.js";

export async function run(args: string[]): Promise<void> {
  const tokens = Number(args[0] ?? 128);
  const cfg = BENCH_BLOCK;
  const block = new DecoderBlock(cfg, 1);
  const x = randn([tokens, cfg.hidden], { seed: 2 });
  const flops = 2 * tokens * cfg.hidden * (cfg.heads * cfg.headDim * 2 + cfg.kvHeads * cfg.headDim * 2 + 3 * cfg.intermediate) +
    4 * tokens * tokens * cfg.heads * cfg.headDim;
  const probes = hasToolchain() ? await limitProbes() : undefined;
  probes?.measure();

  const measure = async (backend: "js" | "native") => {
    const compiled = compile(block, { dynamic: { 0: [0] }, backend });
    const t0 = performance.now();
    compiled(x);
    const firstCall = performance.now() - t0;
    return { report: compiled.lastCompileReport!, firstCall, ms: await timeMs(() => compiled(x), 3, 0) };
  };
  const js = await measure("js");
  const native = hasToolchain() ? await measure("native") : undefined;
  const eagerMs = await timeMs(() => block.forward(x), 2, 0);
  const report = js.report;
  const compiledMs = js.ms;
  const firstCall = js.firstCall;

  const limits = probes ? (probes.measure(), probes.best) : undefined;
  const ratios: LimitRatio[] = [];
  const row = (path: string, ms: number) => {
    const r = limits ? ofPeak(limits, `decoder block, ${path}`, flops / ms / 1e6) : undefined;
    if (r) ratios.push(r);
    return { path, ms, "GFLOP/s": flops / ms / 1e6, "of FMA peak": r?.ratio ?? NaN, "vs eager": eagerMs / ms };
  };
  const rows = [
    row("eager (reference kernels)", eagerMs),
    row("compiled, JS backend", compiledMs),
    ...(native ? [row("compiled, native backend", native.ms)] : []),
  ];
  if (limits) printTable("machine limits (best of before and after)", limitsRows(limits));
  printTable(`decoder block, ${tokens} tokens × hidden ${cfg.hidden} (${(flops / 1e9).toFixed(2)} GFLOP/forward)`, rows);
  printTable("compile, JS backend (first call)", [
    { phase: "trace", ms: report.trace },
    { phase: "passes", ms: report.passes },
    { phase: "codegen", ms: report.codegen },
    { phase: "load", ms: report.load },
    { phase: "first call total (incl. run)", ms: firstCall },
  ]);
  console.log(`\ncompiled / eager speed-up: ${(eagerMs / compiledMs).toFixed(2)}×, kernels: ${report.kernels}`);
  printJsonLine("jit", {
    tokens, hidden: cfg.hidden, eager_ms: eagerMs, compiled_ms: compiledMs, speedup: eagerMs / compiledMs,
    gflops_compiled: flops / compiledMs / 1e6, compile_ms: { trace: report.trace, passes: report.passes, codegen: report.codegen, load: report.load },
    kernels: report.kernels,
    limits: limits ? limitsJson(limits) : null,
    ...(native ? { native_ms: native.ms, gflops_native: flops / native.ms / 1e6, native_compile_ms: { ...native.report } } : {}),
  });
  failOnBrokenLimits(ratios);
}
