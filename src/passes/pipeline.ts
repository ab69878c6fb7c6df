// The pass pipeline: named flat lists of passes, run top to bottom with per-pass times and node counts.
import type { Graph } from "../graph/index.js";
import { ArgumentError, bump, logTopic } from "../util/index.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { decompose } from "./decompose.js";
import { foldConstants } from "./fold-constants.js";
import type { Pass } from "./pass.js";

export const PIPELINES: Readonly<Record<string, readonly Pass[]>> = {
  default: [decompose, foldConstants, cse, dce],
};

export interface PassReport {
  readonly name: string;
  readonly ms: number;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
}

export interface PipelineResult {
  readonly graph: Graph;
  readonly report: { readonly passes: readonly PassReport[]; readonly totalMs: number };
}

export function runPipeline(graph: Graph, name = "default", options: { verify?: boolean } = {}): PipelineResult {
  const passes = PIPELINES[name];
  if (!passes) throw new ArgumentError("runPipeline", `unknown pipeline '${name}' (have ${Object.keys(PIPELINES).join(", ")})`);
  bump("pipelines");
  const reports: PassReport[] = [];
  let g = graph;
  const t0 = performance.now();
  for (const pass of passes) {
    const start = performance.now();
    const before = g.nodes.length;
    g = pass.run(g);
    if (options.verify) g.verify();
    const ms = performance.now() - start;
    reports.push({ name: pass.name, ms, nodesBefore: before, nodesAfter: g.nodes.length });
    logTopic("compile", `pass ${pass.name}: ${before} → ${g.nodes.length} nodes in ${ms.toFixed(2)} ms`);
  }
  return { graph: g, report: { passes: reports, totalMs: performance.now() - t0 } };
}
