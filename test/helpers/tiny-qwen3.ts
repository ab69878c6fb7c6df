// The tiny Qwen3 fixture (weights and PyTorch's reference) as the engine tests use it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CausalLM, loadCheckpoint } from "../../src/models/index.js";
import { projectRoot } from "./root.js";

export const TINY_QWEN3_DIR = join(projectRoot(), "test", "fixtures", "tiny-qwen3");

export const tinyQwen3Reference = JSON.parse(readFileSync(join(TINY_QWEN3_DIR, "reference.json"), "utf8")) as {
  f32: { prompt_ids: number[]; greedy: number[] }[];
};

/** The fixture's model in f32, weights loaded. */
export function tinyQwen3(): CausalLM {
  const ckpt = loadCheckpoint(TINY_QWEN3_DIR);
  const m = new CausalLM(ckpt.config, "f32");
  const names = new Set(m.namedParameters().map(([n]) => n));
  m.loadStateDict(Object.fromEntries([...ckpt.tensors].filter(([n]) => names.has(n))), { strict: false });
  return m;
}
