// `kiln generate` replicas of a fleet for the fleet-cache tests: each a process with an empty local cache of its own
// and the given KILN_CACHE_REMOTE, returning its tokens and what its cache did.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { KILN_CLI } from "./kiln-cli.js";
import { TINY_QWEN3_DIR, tinyQwen3Reference } from "./tiny-qwen3.js";

export const { prompt_ids: FLEET_PROMPT, greedy: FLEET_GREEDY } = tinyQwen3Reference.f32[1]!;

export interface ReplicaRun {
  readonly ids: number[];
  readonly traces: number;
  readonly compilerInvocations: number;
  readonly outcomes: string[];
  readonly log: string[];
  readonly ms: number;
}

export interface ReplicaOptions {
  readonly backend?: "js" | "native" | "auto";
  readonly env?: Record<string, string>;
}

const args = (backend: string) => [...process.execArgv, KILN_CLI, "generate", "--model", TINY_QWEN3_DIR, "--prompt-ids", FLEET_PROMPT.join(","), "--max-tokens", "8", "--json", "--backend", backend];

function parse(stdout: string, ms: number): ReplicaRun {
  const o = JSON.parse(stdout) as { generated_ids: number[]; compile: { traces: number; compiler_invocations: number; outcomes: string[]; log: string[] } };
  return { ids: o.generated_ids, traces: o.compile.traces, compilerInvocations: o.compile.compiler_invocations, outcomes: o.compile.outcomes, log: o.compile.log, ms };
}

/** One replica, run to the end; `local` is its (empty) cache folder. */
export function replica(local: string, remote: string, options: ReplicaOptions = {}): ReplicaRun {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args(options.backend ?? "js"), {
    env: { ...process.env, KILN_CACHE_DIR: local, KILN_CACHE_REMOTE: remote, ...options.env }, encoding: "utf8", timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return parse(r.stdout, performance.now() - t0);
}

/** `n` replicas started at once, each with its own empty cache below `root`. */
export async function replicasAtOnce(n: number, root: string, remote: string): Promise<ReplicaRun[]> {
  const one = (i: number) =>
    new Promise<ReplicaRun>((resolve, reject) => {
      const t0 = performance.now();
      const child = spawn(process.execPath, args("js"), { env: { ...process.env, KILN_CACHE_DIR: join(root, `at-once-${i}`), KILN_CACHE_REMOTE: remote } });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("error", reject);
      child.on("close", (code) => (code === 0 ? resolve(parse(out, performance.now() - t0)) : reject(new Error(`replica ${i} exited ${code}: ${err}`))));
    });
  return Promise.all(Array.from({ length: n }, (_, i) => one(i)));
}
