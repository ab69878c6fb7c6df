// Issue 5 acceptance 1 (prefill): the tiny Qwen3 checkpoint's logits equal PyTorch's reference
// (rtol/atol 1e-4, f32) with identical argmax per position — eager and on every backend.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compile, tensor } from "../../src/index.js";
import { CausalLM, loadCheckpoint } from "../../src/models/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { assertAllClose } from "../helpers/assert-close.js";
import { projectRoot } from "../helpers/root.js";

const dir = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
interface Case {
  prompt_ids: number[];
  logits: number[][];
  argmax: number[];
}
const reference = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as { f32: Case[]; bf16_weights_f32_compute: Case[] };

function loadModel(weights?: string): CausalLM {
  const ckpt = loadCheckpoint(dir, weights ? { weights } : {});
  const dtype = ckpt.tensors.get("model.norm.weight")!.dtype;
  const model = new CausalLM(ckpt.config, dtype);
  const names = model.namedParameters().map(([n]) => n);
  assert.deepEqual(names.filter((n) => !ckpt.tensors.has(n)), [], "every parameter is in the checkpoint");
  model.loadStateDict(Object.fromEntries([...ckpt.tensors].filter(([n]) => names.includes(n))), { strict: false });
  return model;
}

function check(logits: ArrayLike<number>, c: Case): void {
  const vocab = c.logits[0]!.length;
  assertAllClose(logits, c.logits.flat(), { rtol: 1e-4, atol: 1e-4 });
  const argmax = c.logits.map((_, p) => {
    let best = 0;
    for (let j = 1; j < vocab; j++) if (logits[p * vocab + j]! > logits[p * vocab + best]!) best = j;
    return best;
  });
  assert.deepEqual(argmax, c.argmax);
}

test("tiny Qwen3, eager: prefill logits equal PyTorch's for every prompt", () => {
  const model = loadModel();
  assert.equal(model.config.architecture, "Qwen3ForCausalLM");
  for (const c of reference.f32) check(model.forward(tensor(c.prompt_ids, { dtype: "i32" })).values(), c);
});

for (const backend of ["js", "native"] as const) {
  test(`tiny Qwen3, compiled (${backend}): one compile serves every prompt length, logits equal PyTorch's`, { skip: backend === "native" && !hasToolchain() ? "no C compiler" : false }, () => {
    const model = loadModel();
    const f = compile(model, { dynamic: { 0: [0] }, backend });
    for (const c of reference.f32) check(f(tensor(c.prompt_ids, { dtype: "i32" })).values(), c);
    assert.equal(f.stats.compiles, 1);
  });
}

for (const backend of ["js", "native"] as const) {
  test(`tiny Qwen3 with bf16 weights (f32 compute), ${backend}: logits equal PyTorch's`, { skip: backend === "native" && !hasToolchain() ? "no C compiler" : false }, () => {
    const model = loadModel("model.bf16.safetensors");
    assert.equal(model.model.layers[0]!.self_attn.q_proj.weight.dtype, "bf16");
    const f = compile(model, { dynamic: { 0: [0] }, backend });
    for (const c of reference.bf16_weights_f32_compute) check(f(tensor(c.prompt_ids, { dtype: "i32" })).values(), c);
  });
}
