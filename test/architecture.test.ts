// Enforces ARCHITECTURE.md's one-way layering: no upward import, no import past a folder's index.ts, no cycle.
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";
import { projectRoot } from "./helpers/root.js";

/** The layer order: a layer may import only from layers before it. */
export const LAYERS = [
  "util", "tensor", "ops", "graph", "trace", "passes", "codegen", "backend",
  "cache", "compile", "nn", "models", "engine", "server", "cli",
] as const;

const src = join(projectRoot(), "src");

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** Relative imports of a file; `valuesOnly` skips `import type` (type-only cycles are harmless). */
function importsOf(file: string, valuesOnly = false): string[] {
  const text = readFileSync(file, "utf8");
  const specs = [...text.matchAll(/(?:^|\n)\s*((?:import|export)\b[^'"]*?)from\s*["']([^"']+)["']/g)]
    .filter((m) => !(valuesOnly && /^(import|export)\s+type\b/.test(m[1]!)))
    .map((m) => m[2]!);
  const dynamic = [...text.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
  return [...specs, ...dynamic].filter((s) => s.startsWith("."));
}

function layerOf(file: string): string {
  return relative(src, file).split(/[\\/]/)[0]!;
}

const files = walk(src);

test("every src folder is a known layer", () => {
  for (const f of files) {
    const l = layerOf(f);
    if (l.endsWith(".ts")) continue; // src/index.ts, the package's public face
    assert.ok((LAYERS as readonly string[]).includes(l), `${relative(src, f)}: folder '${l}' is not in the layer list`);
  }
});

test("imports go only to earlier layers, and only through index.ts", () => {
  const problems: string[] = [];
  for (const f of files) {
    const from = layerOf(f);
    for (const spec of importsOf(f)) {
      const target = resolve(dirname(f), spec.replace(/\.js$/, ".ts"));
      const to = layerOf(target);
      if (from.endsWith(".ts") || to === from) continue;
      const fi = LAYERS.indexOf(from as never);
      const ti = LAYERS.indexOf(to as never);
      if (ti < 0 || ti >= fi) problems.push(`${relative(src, f)} imports upward: ${spec}`);
      if (relative(join(src, to), target) !== "index.ts") problems.push(`${relative(src, f)} imports past ${to}/index.ts: ${spec}`);
    }
  }
  assert.deepEqual(problems, []);
});

test("no import cycles between files", () => {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    graph.set(f, importsOf(f, true).map((s) => resolve(dirname(f), s.replace(/\.js$/, ".ts"))));
  }
  const state = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 2) return;
    if (state.get(f) === 1) {
      cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(src, p)).join(" -> "));
      return;
    }
    state.set(f, 1);
    for (const g of graph.get(f) ?? []) visit(g, [...path, f]);
    state.set(f, 2);
  };
  for (const f of files) visit(f, []);
  assert.deepEqual(cycles, []);
});
