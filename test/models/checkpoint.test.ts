// Checkpoint loading: the fixture folder, sharded checkpoints with an index, and name/shape checks against the config.
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  type ModelConfig, checkTensors, expectedTensorCount, expectedTensorNames, expectedTensors, loadCheckpoint, parseHfConfig, readSafetensors,
  writeSafetensors, writeShardedSafetensors,
} from "../../src/models/index.js";
import { type DType, type Tensor, type TensorType } from "../../src/tensor/index.js";
import { ModelFormatError } from "../../src/util/index.js";
import { projectRoot } from "../helpers/root.js";

const fixture = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const tmp = mkdtempSync(join(tmpdir(), "kiln-checkpoint-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const fixtureTensors = readSafetensors(join(fixture, "model.safetensors")).tensors;
const qwenConfig = parseHfConfig(JSON.parse(readFileSync(join(fixture, "config.json"), "utf8")));

function bytesOf(t: Tensor): Uint8Array {
  const r = t.raw();
  return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
}

/** A folder with the fixture's config and its tensors split into shards of at most `maxShardBytes`. */
function shardedFolder(name: string, maxShardBytes: number): { dir: string; files: string[] } {
  const dir = mkdtempSync(join(tmp, `${name}-`));
  copyFileSync(join(fixture, "config.json"), join(dir, "config.json"));
  const files = writeShardedSafetensors(dir, fixtureTensors, { maxShardBytes, metadata: { format: "pt" } });
  return { dir, files };
}

function editIndex(dir: string, edit: (index: { weight_map: Record<string, string> }) => void): void {
  const path = join(dir, "model.safetensors.index.json");
  const index = JSON.parse(readFileSync(path, "utf8"));
  edit(index);
  writeFileSync(path, JSON.stringify(index));
}

/** `fn` throws a ModelFormatError about `tensorName` whose message matches `message`. */
function failsAbout(fn: () => unknown, tensorName: string | undefined, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
    assert.equal(e.tensorName, tensorName);
    assert.match(e.message, message);
    return true;
  });
}

test("loads the fixture folder (f32, and the bf16 file by name)", () => {
  const c = loadCheckpoint(fixture);
  assert.equal(c.config.architecture, "Qwen3ForCausalLM");
  assert.deepEqual(c.files, [join(fixture, "config.json"), join(fixture, "model.safetensors")]);
  assert.deepEqual([...c.tensors.keys()].sort(), expectedTensorNames(c.config).sort());
  assert.deepEqual(c.tensors.get("model.layers.1.mlp.gate_proj.weight")!.shape, [128, 64]);
  const b = loadCheckpoint(fixture, { weights: "model.bf16.safetensors" });
  assert.equal(b.tensors.get("model.norm.weight")!.dtype, "bf16");
  assert.equal(b.tensors.size, c.tensors.size);
});

test("expected names and shapes for the tiny Qwen3 (tied: no lm_head)", () => {
  const names = expectedTensorNames(qwenConfig);
  assert.equal(names.length, 1 + 2 * 11 + 1);
  assert.ok(!names.includes("lm_head.weight"));
  const shapes = expectedTensors(qwenConfig);
  assert.deepEqual(shapes.get("model.embed_tokens.weight"), [512, 64]);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.q_proj.weight"), [64, 64]);
  assert.deepEqual(shapes.get("model.layers.0.self_attn.v_proj.weight"), [32, 64]);
  assert.deepEqual(shapes.get("model.layers.1.self_attn.o_proj.weight"), [64, 64]);
  assert.deepEqual(shapes.get("model.layers.1.self_attn.k_norm.weight"), [16]);
  assert.deepEqual(shapes.get("model.layers.1.mlp.down_proj.weight"), [64, 128]);
  for (const [name, t] of fixtureTensors) assert.deepEqual(t.shape, shapes.get(name), name);
});

test("expected names for Llama: no q/k norms; lm_head when untied; biases when configured", () => {
  const base = {
    architectures: ["LlamaForCausalLM"], hidden_size: 48, num_hidden_layers: 3, num_attention_heads: 6,
    num_key_value_heads: 2, intermediate_size: 80, vocab_size: 100,
  };
  const llama = parseHfConfig(base);
  const names = expectedTensorNames(llama);
  assert.equal(names.length, 1 + 3 * 9 + 1 + 1);
  assert.ok(!names.some((n) => n.includes("q_norm") || n.includes("k_norm")));
  assert.deepEqual(expectedTensors(llama).get("lm_head.weight"), [100, 48]);
  assert.deepEqual(expectedTensors(llama).get("model.layers.2.self_attn.k_proj.weight"), [16, 48]);
  assert.deepEqual(names.slice(0, 11), [
    "model.embed_tokens.weight",
    "model.layers.0.input_layernorm.weight",
    "model.layers.0.self_attn.q_proj.weight",
    "model.layers.0.self_attn.k_proj.weight",
    "model.layers.0.self_attn.v_proj.weight",
    "model.layers.0.self_attn.o_proj.weight",
    "model.layers.0.post_attention_layernorm.weight",
    "model.layers.0.mlp.gate_proj.weight",
    "model.layers.0.mlp.up_proj.weight",
    "model.layers.0.mlp.down_proj.weight",
    "model.layers.1.input_layernorm.weight",
  ]);
  const biased = expectedTensors(parseHfConfig({ ...base, attention_bias: true, mlp_bias: true }));
  assert.deepEqual(biased.get("model.layers.0.self_attn.k_proj.bias"), [16]);
  assert.deepEqual(biased.get("model.layers.0.self_attn.o_proj.bias"), [48]);
  assert.deepEqual(biased.get("model.layers.0.mlp.up_proj.bias"), [80]);
  assert.deepEqual(biased.get("model.layers.0.mlp.down_proj.bias"), [48]);
});

test("a sharded checkpoint with an index loads each shard once, equal to the single file", () => {
  const { dir, files } = shardedFolder("sharded", 100_000);
  assert.ok(files.length >= 4, `${files.length} shards`);
  assert.equal(files[0], `model-00001-of-${String(files.length).padStart(5, "0")}.safetensors`);
  const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
  let total = 0;
  for (const t of fixtureTensors.values()) total += bytesOf(t).length;
  assert.equal(index.metadata.total_size, total);
  const reads: string[] = [];
  const c = loadCheckpoint(dir, { readBytes: (p) => (reads.push(p), readFileSync(p)) });
  assert.deepEqual(reads, [join(dir, "model.safetensors.index.json"), ...files.map((f) => join(dir, f))]);
  assert.deepEqual(c.files, [join(dir, "config.json"), ...reads]);
  assert.equal(c.tensors.size, fixtureTensors.size);
  for (const [name, t] of fixtureTensors) assert.deepEqual(bytesOf(c.tensors.get(name)!), bytesOf(t), name);
});

test("sharded: a missing shard names the shard and a tensor listed in it", () => {
  const { dir, files } = shardedFolder("missing-shard", 100_000);
  rmSync(join(dir, files[1]!));
  const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
  const first = Object.keys(index.weight_map).find((n) => index.weight_map[n] === files[1])!;
  assert.throws(
    () => loadCheckpoint(dir),
    (e: unknown) =>
      e instanceof ModelFormatError && e.tensorName === first && e.path === join(dir, files[1]!) && /cannot be read: .*ENOENT/.test(e.message),
  );
});

test("sharded: a listed tensor absent from its shard, or a shard tensor the index does not map, is named", () => {
  const a = shardedFolder("absent", 100_000);
  editIndex(a.dir, (ix) => {
    ix.weight_map["model.layers.0.self_attn.extra.weight"] = a.files[0]!;
  });
  failsAbout(() => loadCheckpoint(a.dir), "model.layers.0.self_attn.extra.weight", /listed in .*index\.json but absent from this shard/);

  const b = shardedFolder("unlisted", 100_000);
  editIndex(b.dir, (ix) => {
    delete ix.weight_map["model.norm.weight"];
  });
  failsAbout(() => loadCheckpoint(b.dir), "model.norm.weight", /present in this shard, but .* maps it to no shard/);

  const c = shardedFolder("moved", 100_000);
  editIndex(c.dir, (ix) => {
    ix.weight_map["model.norm.weight"] = ix.weight_map["model.embed_tokens.weight"]!;
  });
  assert.throws(() => loadCheckpoint(c.dir), (e: unknown) => e instanceof ModelFormatError && e.tensorName === "model.norm.weight");
});

test("sharded: malformed index files", () => {
  const { dir } = shardedFolder("bad-index", 100_000);
  editIndex(dir, (ix) => {
    ix.weight_map["model.norm.weight"] = "../elsewhere.safetensors";
  });
  failsAbout(() => loadCheckpoint(dir), "model.norm.weight", /not a file name inside the folder/);
  writeFileSync(join(dir, "model.safetensors.index.json"), '{"weight_map": [1]}');
  failsAbout(() => loadCheckpoint(dir), undefined, /no weight_map object/);
  writeFileSync(join(dir, "model.safetensors.index.json"), "{");
  failsAbout(() => loadCheckpoint(dir), undefined, /index is not valid JSON/);
});

test("a folder without weights, and a folder without config", () => {
  const dir = mkdtempSync(join(tmp, "empty-"));
  failsAbout(() => loadCheckpoint(dir), undefined, /cannot read config: ENOENT/);
  copyFileSync(join(fixture, "config.json"), join(dir, "config.json"));
  failsAbout(() => loadCheckpoint(dir), undefined, /no weights: neither model\.safetensors nor model\.safetensors\.index\.json/);
});

test("checkTensors names a missing tensor, an unexpected one and a shape mismatch with both shapes", () => {
  const types = (): Map<string, TensorType> => new Map([...fixtureTensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]));
  checkTensors(qwenConfig, types());

  const missing = types();
  missing.delete("model.layers.1.self_attn.k_norm.weight");
  failsAbout(() => checkTensors(qwenConfig, missing, "/m"), "model.layers.1.self_attn.k_norm.weight", /missing: Qwen3ForCausalLM needs it with shape \[16\]/);

  const extra = types();
  extra.set("model.layers.2.input_layernorm.weight", { dtype: "f32", shape: [64] });
  failsAbout(() => checkTensors(qwenConfig, extra), "model.layers.2.input_layernorm.weight", /unexpected tensor of shape \[64\]/);

  const wrong = types();
  wrong.set("model.layers.0.self_attn.q_proj.weight", { dtype: "f32", shape: [64, 63] });
  failsAbout(
    () => checkTensors(qwenConfig, wrong),
    "model.layers.0.self_attn.q_proj.weight",
    /shape \[64, 63\] does not match the shape \[64, 64\] that config.json implies/,
  );

  const ints = types();
  ints.set("model.norm.weight", { dtype: "i32" as DType, shape: [64] });
  failsAbout(() => checkTensors(qwenConfig, ints), "model.norm.weight", /dtype i32 is not a float dtype/);

  // Several problems: the first is named, the others counted.
  const many = types();
  many.delete("model.embed_tokens.weight");
  many.delete("model.norm.weight");
  many.set("bogus", { dtype: "f32", shape: [1] });
  failsAbout(() => checkTensors(qwenConfig, many), "model.embed_tokens.weight", /and 2 more: model\.norm\.weight, bogus/);
});

test("checkTensors: lm_head is required when untied, tolerated when tied; rotary inv_freq buffers are tolerated", () => {
  const types = new Map<string, TensorType>([...fixtureTensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]));
  const untied: ModelConfig = parseHfConfig({ ...qwenConfig.raw, tie_word_embeddings: false });
  failsAbout(() => checkTensors(untied, types), "lm_head.weight", /missing: .* shape \[512, 64\]/);
  types.set("lm_head.weight", { dtype: "f32", shape: [512, 64] });
  checkTensors(untied, types);
  checkTensors(qwenConfig, types);
  types.set("model.layers.0.self_attn.rotary_emb.inv_freq", { dtype: "f32", shape: [8] });
  checkTensors(qwenConfig, types);
  types.set("lm_head.weight", { dtype: "f32", shape: [512, 32] });
  failsAbout(() => checkTensors(qwenConfig, types), "lm_head.weight", /unexpected tensor of shape \[512, 32\]/);
});

test("expectedTensorCount counts what expectedTensors names, for every combination of ties, biases and q/k norms", () => {
  for (const arch of ["LlamaForCausalLM", "Qwen3ForCausalLM"]) {
    for (const [tie, attentionBias, mlpBias] of [[false, false, false], [true, true, false], [false, true, true], [true, false, true]]) {
      const config = parseHfConfig({
        ...qwenConfig.raw, architectures: [arch], model_type: undefined, tie_word_embeddings: tie, attention_bias: attentionBias, mlp_bias: mlpBias, num_hidden_layers: 3,
      });
      assert.equal(expectedTensorCount(config).total, expectedTensors(config).size, `${arch} ${tie} ${attentionBias} ${mlpBias}`);
    }
  }
});

test("a config that claims more layers than the weights hold fails on the count, before naming every tensor", () => {
  const types = new Map<string, TensorType>([...fixtureTensors].map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }]));
  const many = parseHfConfig({ ...qwenConfig.raw, num_hidden_layers: 4096 });
  failsAbout(() => checkTensors(many, types, "/m"), undefined, /config\.json implies 45058 tensors \(num_hidden_layers 4096 × 11, and 2 more\); the weights hold 24/);
  // Through the loader: a folder whose config says 10 million layers fails on the config field, at once.
  const dir = mkdtempSync(join(tmp, "layers-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...qwenConfig.raw, num_hidden_layers: 10_000_000 }));
  copyFileSync(join(fixture, "model.safetensors"), join(dir, "model.safetensors"));
  failsAbout(() => loadCheckpoint(dir), undefined, /config field num_hidden_layers: 10000000 is over the limit of 4096/);
});

test("loadCheckpoint checks tensors against the config (and check: false skips it)", () => {
  const dir = mkdtempSync(join(tmp, "mismatch-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...qwenConfig.raw, intermediate_size: 96 }));
  writeSafetensors(join(dir, "model.safetensors"), fixtureTensors);
  failsAbout(() => loadCheckpoint(dir), "model.layers.0.mlp.gate_proj.weight", /shape \[128, 64\] does not match the shape \[96, 64\]/);
  assert.equal(loadCheckpoint(dir, { check: false }).tensors.size, fixtureTensors.size);
});
