// Issue 5 acceptance 1 (prefill): the tiny Qwen3 checkpoint's logits equal PyTorch's reference
// (rtol/atol 1e-4, f32) with identical argmax per position — eager and on every backend.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { compile, tensor } from "../../src/index.js";
import { CausalLM, loadCheckpoint, parseHfConfig, randomWeights, writeSafetensorsFromSources } from "../../src/models/index.js";
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

/**
 * transformers' `_compute_default_rope_parameters` then `_compute_llama3_parameters`, written as transformers writes it
 * (torch.where over wavelengths), in f64.
 */
function hfLlama3InvFreq(theta: number, dim: number, s: { factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number }): number[] {
  const invFreq = Array.from({ length: dim / 2 }, (_, i) => 1 / theta ** ((2 * i) / dim));
  const oldContextLen = s.original_max_position_embeddings;
  const lowFreqWavelen = oldContextLen / s.low_freq_factor;
  const highFreqWavelen = oldContextLen / s.high_freq_factor;
  return invFreq.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    const llama = wavelen > lowFreqWavelen ? f / s.factor : f;
    const smoothFactor = (oldContextLen / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    const smoothed = ((1 - smoothFactor) * llama) / s.factor + smoothFactor * llama;
    const isMediumFreq = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    return isMediumFreq ? smoothed : llama;
  });
}

test("Llama 3 RoPE scaling: rope_parameters (transformers v5) and rope_scaling give the same logits, equal to the HF formula's", () => {
  const tmp = mkdtempSync(join(tmpdir(), "kiln-rope-"));
  try {
    // head_dim 16, theta 10000, original context 64: wavelengths 6.3 (kept), 20 and 63 (smoothed), 199 and beyond (divided).
    const scaling = { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
    const base = {
      architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
      num_key_value_heads: 2, head_dim: 16, intermediate_size: 96, vocab_size: 128, max_position_embeddings: 512, torch_dtype: "float32",
    };
    const folders = {
      plain: { ...base, rope_theta: 10000 },
      scaling: { ...base, rope_theta: 10000, rope_scaling: { rope_type: "llama3", ...scaling } },
      parameters: { ...base, rope_parameters: { rope_type: "llama3", rope_theta: 10000, ...scaling } },
    };
    const weights = randomWeights(parseHfConfig(folders.plain), "f32", 7, 0.3);
    const load = (name: keyof typeof folders): CausalLM => {
      const dir = join(tmp, name);
      mkdirSync(dir);
      writeFileSync(join(dir, "config.json"), JSON.stringify(folders[name]));
      writeSafetensorsFromSources(join(dir, "model.safetensors"), weights);
      const ckpt = loadCheckpoint(dir);
      const model = new CausalLM(ckpt.config, "f32");
      model.loadStateDict(ckpt.tensors, { strict: false });
      return model;
    };
    const ids = tensor(Array.from({ length: 48 }, (_, i) => (i * 37) % 128), { dtype: "i32" });
    const logits = (m: CausalLM) => Array.from(m.forward(ids).values());
    const [plain, viaScaling, viaParameters] = [load("plain"), load("scaling"), load("parameters")];
    assert.deepEqual(logits(viaParameters), logits(viaScaling));
    // The reference: the unscaled model given the HF formula's frequencies.
    const want = hfLlama3InvFreq(10000, 16, scaling);
    assertAllClose(viaParameters.invFreq.values(), want, { rtol: 1e-6, atol: 0 });
    const unscaled = logits(plain);
    plain.loadStateDict({ invFreq: tensor(want) }, { strict: false });
    const reference = logits(plain);
    assertAllClose(logits(viaParameters), reference, { rtol: 1e-5, atol: 1e-5 });
    // The scaling matters at these positions: without it the logits are far off.
    assert.ok(Math.max(...unscaled.map((x, i) => Math.abs(x - reference[i]!))) > 1e-2);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
