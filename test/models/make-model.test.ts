// make-model: preset folders that load with loadCheckpoint and run in CausalLM (their tokenizer files are the tested
// bundled ones, byte for byte); the seed changes only the weights; the compiled (JS) model's prefill logits equal
// eager ones (acceptance 1, Llama half).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compile, tensor } from "../../src/index.js";
import {
  CausalLM, FolderNotEmptyError, PRESETS, bundledTokenizerDir, expectedTensors, loadCheckpoint, makeModel, parseHfConfig, presetConfig,
  randomWeights, readHfConfig,
} from "../../src/models/index.js";
import { ArgumentError } from "../../src/util/index.js";
import { assertAllClose } from "../helpers/assert-close.js";

const tmp = mkdtempSync(join(tmpdir(), "kiln-make-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function loadModel(dir: string): CausalLM {
  const ckpt = loadCheckpoint(dir);
  const model = new CausalLM(ckpt.config, ckpt.tensors.get("model.norm.weight")!.dtype);
  const names = new Set(model.namedParameters().map(([n]) => n));
  assert.deepEqual([...names].filter((n) => !ckpt.tensors.has(n)), []);
  model.loadStateDict(Object.fromEntries([...ckpt.tensors].filter(([n]) => names.has(n))), { strict: false });
  return model;
}

function argmaxRows(logits: ArrayLike<number>, vocab: number): number[] {
  return Array.from({ length: logits.length / vocab }, (_, p) => {
    let best = 0;
    for (let j = 1; j < vocab; j++) if (logits[p * vocab + j]! > logits[p * vocab + best]!) best = j;
    return best;
  });
}

/** Eager and compiled (JS) prefill: logits within 1e-4, same argmax per position. */
function checkCompiledEqualsEager(dir: string, ids: number[]): void {
  const model = loadModel(dir);
  const x = tensor(ids, { dtype: "i32" });
  const eager = model.forward(x).values();
  const compiled = compile(model, { dynamic: { 0: [0] }, backend: "js" })(x).values();
  const vocab = model.config.vocabSize;
  assert.equal(eager.length, ids.length * vocab);
  assertAllClose(compiled, eager, { rtol: 1e-4, atol: 1e-4 });
  assert.deepEqual(argmaxRows(compiled, vocab), argmaxRows(eager, vocab));
  assert.ok(new Set(argmaxRows(eager, vocab)).size > 1, "random weights give position-dependent predictions");
}

test("make-model tiny: config.json byte-identical across seeds, weights differ, same seed same bytes; real tokenizer files", () => {
  const [a, b] = [join(tmp, "seed1"), join(tmp, "seed2")];
  const made = makeModel({ preset: "tiny", out: a, dtype: "f32", seed: 1 });
  makeModel({ preset: "tiny", out: b, dtype: "f32", seed: 2 });
  for (const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]) {
    assert.equal(sha(join(a, f)), sha(join(b, f)), f);
  }
  assert.equal(sha(join(a, "tokenizer.json")), sha(join(bundledTokenizerDir("qwen3"), "tokenizer.json")));
  const first = sha(join(a, "model.safetensors"));
  assert.notEqual(first, sha(join(b, "model.safetensors")));
  const q = "model.layers.0.self_attn.q_proj.weight";
  const regenerated = Buffer.concat([...randomWeights(readHfConfig(join(a, "config.json")), "f32", 1).get(q)!.chunks()]);
  const stored = loadCheckpoint(a).tensors.get(q)!.raw();
  assert.ok(regenerated.equals(new Uint8Array(stored.buffer, stored.byteOffset, stored.byteLength)), "the same seed gives the same bytes");

  const config = readHfConfig(join(a, "config.json"));
  assert.equal(config.architecture, "Qwen3ForCausalLM");
  assert.deepEqual([config.hiddenSize, config.numHiddenLayers, config.numAttentionHeads, config.numKeyValueHeads, config.headDim], [64, 2, 4, 2, 16]);
  assert.deepEqual([config.vocabSize, config.tieWordEmbeddings, config.torchDtype], [151936, true, "f32"]);
  assert.equal(made.parameters, 151936 * 64 + 2 * (64 * 64 * 2 + 64 * 32 * 2 + 2 * 16 + 3 * 64 * 128 + 2 * 64) + 64);
});

test("make-model tiny: weights load with loadCheckpoint, follow HF init (normal std 0.02, norms 1), compiled == eager", () => {
  const dir = join(tmp, "seed1");
  const ckpt = loadCheckpoint(dir);
  const emb = ckpt.tensors.get("model.embed_tokens.weight")!.values().subarray(0, 1 << 20);
  let [sum, sq] = [0, 0];
  for (const v of emb) [sum, sq] = [sum + v, sq + v * v];
  const mean = sum / emb.length;
  const std = Math.sqrt(sq / emb.length - mean * mean);
  assert.ok(Math.abs(mean) < 1e-4 && Math.abs(std - 0.02) < 2e-4, `mean ${mean}, std ${std}`);
  assert.ok(ckpt.tensors.get("model.layers.1.self_attn.q_norm.weight")!.values().every((v) => v === 1));
  checkCompiledEqualsEager(dir, [9707, 1879, 0, 108386]); // "Hello world!你好" in Qwen3's tokenizer
});

test("make-model tiny-llama (bf16): Llama 3.2 config and tokenizer; JS-compiled prefill logits equal eager (1e-4), same argmax", () => {
  const dir = join(tmp, "tiny-llama");
  makeModel({ preset: "tiny-llama", out: dir, dtype: "bf16", seed: 3 });
  const ckpt = loadCheckpoint(dir);
  assert.equal(ckpt.config.architecture, "LlamaForCausalLM");
  assert.deepEqual(ckpt.config.ropeScaling, { ropeType: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  assert.equal(ckpt.tensors.get("model.layers.0.mlp.up_proj.weight")!.dtype, "bf16");
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) assert.equal(sha(join(dir, f)), sha(join(bundledTokenizerDir("llama3.2"), f)), f);
  checkCompiledEqualsEager(dir, [128000, 9906, 1917, 0]); // "<|begin_of_text|>Hello world!" in Llama 3's tokenizer
});

test("the big presets carry the real Qwen3-0.6B and Llama-3.2-1B configs", () => {
  const qwen = parseHfConfig(presetConfig(PRESETS["qwen3-0.6b"], "bf16"));
  assert.deepEqual(
    [qwen.hiddenSize, qwen.numHiddenLayers, qwen.numAttentionHeads, qwen.numKeyValueHeads, qwen.headDim, qwen.intermediateSize, qwen.vocabSize],
    [1024, 28, 16, 8, 128, 3072, 151936],
  );
  assert.deepEqual([qwen.tieWordEmbeddings, qwen.ropeTheta, qwen.rmsNormEps, qwen.maxPositionEmbeddings, qwen.torchDtype], [true, 1e6, 1e-6, 40960, "bf16"]);
  const llama = parseHfConfig(presetConfig(PRESETS["llama-3.2-1b"], "f32"));
  assert.deepEqual(
    [llama.hiddenSize, llama.numHiddenLayers, llama.numAttentionHeads, llama.numKeyValueHeads, llama.headDim, llama.intermediateSize, llama.vocabSize],
    [2048, 16, 32, 8, 64, 8192, 128256],
  );
  assert.deepEqual([llama.tieWordEmbeddings, llama.ropeTheta, llama.rmsNormEps, llama.maxPositionEmbeddings, llama.torchDtype], [true, 500000, 1e-5, 131072, "f32"]);
  assert.deepEqual(llama.ropeScaling, { ropeType: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  const params = (c: typeof qwen) => [...expectedTensors(c).values()].reduce((n, s) => n + s.reduce((a, d) => a * d, 1), 0);
  assert.equal(params(qwen), 596049920);
  assert.equal(params(llama), 1235814400);
});

test("make-model refuses a non-empty folder (naming it) unless forced, and a file in its place", () => {
  const dir = join(tmp, "busy");
  mkdirSync(dir);
  writeFileSync(join(dir, "notes.txt"), "mine");
  assert.throws(() => makeModel({ preset: "tiny-llama", out: dir }), (e: unknown) => e instanceof FolderNotEmptyError && e.path === dir && e.message.includes(dir));
  assert.throws(() => makeModel({ preset: "tiny", out: join(dir, "notes.txt") }), ArgumentError);
  assert.throws(() => makeModel({ preset: "qwen9", out: join(tmp, "x") }), /unknown preset 'qwen9'/);
  assert.equal(readFileSync(join(dir, "notes.txt"), "utf8"), "mine");
});
