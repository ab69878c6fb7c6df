// The pass pipeline: named flat lists of passes, run top to bottom with per-pass times and node counts.
import type { Graph } from "../graph/index.js";
import { ArgumentError, InternalError, bump, logTopic } from "../util/index.js";
import { cse } from "./cse.js";
import { dce } from "./dce.js";
import { decompose } from "./decompose.js";
import { foldConstants } from "./fold-constants.js";
import type { Pass } from "./pass.js";

export const PIPELINES = {
  default: [decompose, foldConstants, cse, dce],
} as const satisfies Readonly<Record<string, readonly Pass[]>>;

export type PipelineName = keyof typeof PIPELINES;

export interface PassReport {
  readonly name: string;
  readonly ms: number;
  readonly nodesBefore: number;
  readonly nodesAfter: number;
}

export interface PipelineReport {
  readonly passes: readonly PassReport[];
  readonly totalMs: number;
}

export interface PipelineResult {
  readonly graph: Graph;
  readonly report: PipelineReport;
}

export interface PipelineOptions {
  /** Run `verify()` on the input and after every pass, naming the pass that broke an invariant (tests turn it on). */
  readonly verify?: boolean;
}

function checked(graph: Graph, after: string): void {
  try {
    graph.verify();
  } catch (e) {
    throw new InternalError(`${after}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/** Runs the passes of pipeline `name` in order; logs each under KILN_LOG=compile. */
export function runPipeline(graph: Graph, name: string = "default", options: PipelineOptions = {}): PipelineResult {
  const passes: readonly Pass[] | undefined = Object.hasOwn(PIPELINES, name) ? PIPELINES[name as PipelineName] : undefined;
  if (!passes) throw new ArgumentError("runPipeline", `unknown pipeline '${name}' (have ${Object.keys(PIPELINES).join(", ")})`);
  bump("pipelines");
  if (options.verify) checked(graph, `the input of pipeline '${name}'`);
  const reports: PassReport[] = [];
  let g = graph;
  const t0 = performance.now();
  for (const pass of passes) {
    const start = performance.now();
    const before = g.nodes.length;
    g = pass.run(g);
    const ms = performance.now() - start;
    if (options.verify) checked(g, `after pass ${pass.name}`);
    reports.push({ name: pass.name, ms, nodesBefore: before, nodesAfter: g.nodes.length });
    logTopic("compile", `pass ${pass.name}: ${before} → ${g.nodes.length} nodes in ${ms.toFixed(2)} ms`);
  }
  const totalMs = performance.now() - t0;
  logTopic("compile", `pipeline ${name}: ${graph.nodes.length} → ${g.nodes.length} nodes in ${totalMs.toFixed(2)} ms`);
  return { graph: g, report: { passes: reports, totalMs } };
}
