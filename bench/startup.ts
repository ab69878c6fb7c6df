// `npm run bench -- startup`: cold start (empty cache: trace + passes + codegen + cc, the native runtime included) vs
// cold start with the runtime's objects already built ("cold+rt": the program's own C only) vs warm start (bundle
// load + dlopen) of a 28-layer Qwen3-0.6B-shaped decoder and a 4-layer tiny one, each in a fresh process.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hasToolchain } from "../src/backend/index.js";
import { limitProbes, limitsJson, limitsRows, limitsSummary } from "./limits.js";
import { printJsonLine, printTable } from "./report.js";

const child = fileURLToPath(new URL("./startup-child.js", import.meta.url));

interface ChildResult {
  source: string;
  build_model_ms: number;
  ready_ms: number;
  first_forward_ms: number;
  report: Record<string, number>;
  counters: Record<string, number>;
}

function runChild(cache: string, args: (string | number)[]): ChildResult & { process_ms: number } {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, [child, ...args.map(String)], { env: { ...process.env, KILN_CACHE_DIR: cache }, encoding: "utf8", maxBuffer: 1 << 26 });
  return { ...(JSON.parse(out) as ChildResult), process_ms: performance.now() - t0 };
}

function bundleBytes(cache: string): number {
  return readdirSync(join(cache, "aot"), { recursive: true }).map(String).filter((f) => f.endsWith(".kiln")).reduce((n, f) => n + statSync(join(cache, "aot", f)).size, 0);
}

/** A fresh cache holding only the native runtime's objects (relocatable `.o`, with their store records) of `from`. */
function cacheWithRuntime(from: string): string {
  const cache = mkdtempSync(join(tmpdir(), "kiln-startup-"));
  const [src, dst] = [join(from, "objects"), join(cache, "objects")];
  mkdirSync(dst, { mode: 0o700 });
  for (const f of readdirSync(src).filter((f) => f.endsWith(".ref"))) {
    const record = JSON.parse(readFileSync(join(src, f), "utf8")) as { sha256: string; kind?: string };
    if (record.kind !== "o") continue;
    copyFileSync(join(src, f), join(dst, f));
    copyFileSync(join(src, `${record.sha256}.o`), join(dst, `${record.sha256}.o`));
  }
  return cache;
}

export async function run(): Promise<void> {
  const backend = hasToolchain() ? "native" : "js";
  const models = [
    { name: "qwen3-0.6b shape, 28 layers", args: [28, 1024, 16, 8, 128, 3072] },
    { name: "tiny, 4 layers", args: [4, 64, 4, 2, 16, 128] },
  ];
  // The machine's limits, as every benchmark reports them (startup holds no figure to them: it is compile and load work).
  const probes = backend === "native" ? await limitProbes() : undefined;
  const before = probes?.measure();
  if (before) console.log(limitsSummary(before));
  const rows = [];
  const json: Record<string, unknown> = { backend };
  for (const m of models) {
    const cache = mkdtempSync(join(tmpdir(), "kiln-startup-"));
    const caches = [cache];
    try {
      const cold = runChild(cache, [...m.args, backend]);
      const warm = runChild(cache, [...m.args, backend]);
      const size = bundleBytes(cache);
      const seeded = backend === "native" ? cacheWithRuntime(cache) : undefined;
      if (seeded) caches.push(seeded);
      const coldRt = seeded ? runChild(seeded, [...m.args, backend]) : undefined;
      const coldRow = (start: string, r: ChildResult & { process_ms: number }) =>
        ({ model: m.name, start, ready_ms: r.ready_ms, trace: r.report.trace!, passes: r.report.passes!, codegen: r.report.codegen!, "cc+load": r.report.load!, process_ms: r.process_ms });
      rows.push(
        coldRow("cold", cold),
        ...(coldRt ? [coldRow("cold+rt", coldRt)] : []),
        { model: m.name, start: "warm", ready_ms: warm.ready_ms, trace: 0, passes: 0, codegen: 0, "cc+load": 0, process_ms: warm.process_ms },
      );
      json[String(m.args[0])] = {
        cold_ms: cold.ready_ms, cold_with_runtime_ms: coldRt?.ready_ms, warm_ms: warm.ready_ms, ratio: cold.ready_ms / warm.ready_ms, bundle_bytes: size,
        cold_phases: cold.report, cold_with_runtime_phases: coldRt?.report, warm_counters: warm.counters,
        first_forward_ms: { cold: cold.first_forward_ms, warm: warm.first_forward_ms },
      };
      console.log(`${m.name}: warm is ${(cold.ready_ms / warm.ready_ms).toFixed(0)}× faster than cold; bundle ${(size / 1024).toFixed(0)} KiB; warm traces ${warm.counters.traces}, cc ${warm.counters.compilerInvocations}`);
    } finally {
      for (const c of caches) rmSync(c, { recursive: true, force: true });
    }
  }
  const limits = probes ? (probes.measure(), probes.best) : undefined;
  json.limits = limits ? limitsJson(limits) : null;
  if (limits) printTable("machine limits (best of before and after)", limitsRows(limits));
  printTable(`startup (${backend} backend; ready = compiled function usable, ms)`, rows);
  printJsonLine("startup", json);
}
