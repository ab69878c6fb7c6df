// Safetensors reader and writer: the tiny-qwen3 fixture files, round trips for every dtype, layout and atomicity.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  decodeSafetensors, encodeSafetensors, parseSafetensorsHeader, readSafetensors, writeSafetensors, writeSafetensorsFromSources,
} from "../../src/models/index.js";
import { DTYPES, type DType, ITEM_SIZE, Tensor, bf16ToF32, f32ToBf16, tensor } from "../../src/tensor/index.js";
import { ArgumentError, ModelFormatError } from "../../src/util/index.js";
import { projectRoot } from "../helpers/root.js";

const fixture = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const tmp = mkdtempSync(join(tmpdir(), "kiln-safetensors-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Deterministic, dtype-appropriate sample values (including negatives and, for floats, non-integers). */
function sample(dtype: DType, shape: readonly number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const vals = Array.from({ length: n }, (_, i) => {
    const k = ((i + 1) * 2654435761 + seed * 40503) % 1000;
    switch (dtype) {
      case "bool":
        return k % 2;
      case "i32":
        return k * 1_000_003 - 500_000_000;
      case "i64":
        return (k - 500) * 2 ** 40 + i;
      default:
        return (k - 500) / 37;
    }
  });
  return Tensor.fromValues(dtype, shape, vals);
}

function rawBytes(t: Tensor): Uint8Array {
  const r = t.raw();
  return new Uint8Array(r.buffer, r.byteOffset, r.byteLength);
}

test("reads the fixture's f32 file: names, shapes, dtypes and values", () => {
  const f = readSafetensors(join(fixture, "model.safetensors"));
  assert.equal(f.tensors.size, 2 * 11 + 2);
  const emb = f.tensors.get("model.embed_tokens.weight")!;
  assert.equal(emb.dtype, "f32");
  assert.deepEqual(emb.shape, [512, 64]);
  assert.deepEqual(f.tensors.get("model.layers.1.self_attn.k_proj.weight")!.shape, [32, 64]);
  assert.deepEqual(f.tensors.get("model.layers.0.self_attn.q_norm.weight")!.shape, [16]);
  assert.deepEqual(f.tensors.get("model.layers.0.mlp.down_proj.weight")!.shape, [64, 128]);
  for (const t of f.tensors.values()) assert.equal(t.dtype, "f32");
  // Values: read the header by hand and decode the first embedding row's bytes independently.
  const bytes = readFileSync(join(fixture, "model.safetensors"));
  const n = Number(bytes.readBigUInt64LE(0));
  const info = JSON.parse(bytes.subarray(8, 8 + n).toString("utf8"))["model.embed_tokens.weight"];
  const start = 8 + n + info.data_offsets[0];
  const row = emb.values().subarray(0, 64);
  for (let i = 0; i < 64; i++) assert.equal(row[i], bytes.readFloatLE(start + 4 * i));
  // Random weights of std 0.2, norms near 1: a sanity check that the right bytes were viewed.
  const norm = f.tensors.get("model.norm.weight")!.values();
  assert.ok(norm.every((v) => v > 0.3 && v < 1.7));
  let sq = 0;
  for (const v of emb.values()) sq += v * v;
  const std = Math.sqrt(sq / emb.size);
  assert.ok(std > 0.18 && std < 0.22, `std ${std}`);
});

test("the fixture's bf16 file equals the f32 weights rounded to bf16 (RNE)", () => {
  const f32 = readSafetensors(join(fixture, "model.safetensors"));
  const bf16 = readSafetensors(join(fixture, "model.bf16.safetensors"));
  assert.deepEqual([...bf16.tensors.keys()].sort(), [...f32.tensors.keys()].sort());
  let compared = 0;
  for (const [name, b] of bf16.tensors) {
    const a = f32.tensors.get(name)!;
    assert.equal(b.dtype, "bf16", name);
    assert.deepEqual(b.shape, a.shape, name);
    const words = b.raw() as Uint16Array;
    const vals = a.values();
    for (let i = 0; i < vals.length; i++) {
      if (words[i] !== f32ToBf16(vals[i]!)) assert.fail(`${name}[${i}]: bf16 word ${words[i]} != RNE(${vals[i]})`);
    }
    assert.equal(b.values()[0], bf16ToF32(f32ToBf16(vals[0]!)));
    compared += vals.length;
  }
  assert.ok(compared > 100_000);
});

test("tensors view the file's bytes: no copy when aligned", () => {
  const bytes = readFileSync(join(fixture, "model.safetensors"));
  const f = decodeSafetensors(bytes, "mem");
  for (const t of f.tensors.values()) assert.equal(t.storage.buffer, bytes.buffer);
});

test("round trip for every dtype, including 0-d and empty tensors", () => {
  const dict = new Map<string, Tensor>();
  DTYPES.forEach((dtype, k) => {
    dict.set(`${dtype}.matrix`, sample(dtype, [3, 5], k));
    dict.set(`${dtype}.scalar`, sample(dtype, [], k + 10));
    dict.set(`${dtype}.empty`, sample(dtype, [4, 0, 2], k + 20));
    dict.set(`${dtype}.odd`, sample(dtype, [7], k + 30));
  });
  dict.set("i64.extreme", new Tensor("i64", [2], BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n)));
  const path = join(tmp, "all.safetensors");
  writeSafetensors(path, dict, { metadata: { format: "pt", note: "kiln" } });
  const back = readSafetensors(path);
  assert.deepEqual([...back.tensors.keys()].sort(), [...dict.keys()].sort());
  assert.deepEqual(Object.fromEntries(back.metadata), { format: "pt", note: "kiln" });
  for (const [name, t] of dict) {
    const r = back.tensors.get(name)!;
    assert.equal(r.dtype, t.dtype, name);
    assert.deepEqual(r.shape, t.shape, name);
    assert.deepEqual(rawBytes(r), rawBytes(t), name);
    assert.equal(r.storage.byteOffset % ITEM_SIZE[r.dtype], 0);
  }
  assert.equal(back.tensors.get("f32.scalar")!.item(), dict.get("f32.scalar")!.item());
  assert.deepEqual(back.tensors.get("i64.extreme")!.raw(), BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n));
  assert.deepEqual(back.tensors.get("bool.odd")!.toArray(), dict.get("bool.odd")!.toArray());
  assert.ok((back.tensors.get("bool.odd")!.toArray() as boolean[]).includes(true));
});

test("the writer is deterministic and aligned: header padded to 8, larger items first, then by name", () => {
  const a = { b: sample("f16", [3], 1), a: sample("f32", [2, 2], 2), c: sample("i64", [1], 3), d: sample("bool", [3], 4) };
  const reordered = { d: a.d, c: a.c, b: a.b, a: a.a };
  const bytes = encodeSafetensors(a);
  assert.deepEqual(encodeSafetensors(reordered), bytes);
  const h = parseSafetensorsHeader(bytes, "mem");
  assert.equal(h.dataStart % 8, 0);
  assert.deepEqual(h.entries.map((e) => e.name), ["c", "a", "b", "d"]);
  for (const e of h.entries) assert.equal((h.dataStart + e.begin) % ITEM_SIZE[e.dtype], 0);
  // Writes the header as transformers does: JSON padded with spaces.
  const text = new TextDecoder().decode(bytes.subarray(8, h.dataStart));
  assert.match(text, /^\{"c":\{"dtype":"I64","shape":\[1\],"data_offsets":\[0,8\]\}/);
  assert.equal(text.length % 8, 0);
  assert.equal(text.trimEnd(), JSON.stringify(JSON.parse(text)));
});

test("non-contiguous views are written as their logical contents", () => {
  const t = tensor([[1, 2, 3], [4, 5, 6]]);
  const transposed = t.asStrided([3, 2], [1, 3], 0);
  const back = decodeSafetensors(encodeSafetensors({ t: transposed }), "mem").tensors.get("t")!;
  assert.deepEqual(back.toArray(), [[1, 4], [2, 5], [3, 6]]);
});

test("a misaligned tensor is copied once, with the right values", () => {
  // Hand-built file: header of odd length, so the f32 tensor starts at an odd offset.
  const header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
  const json = Buffer.from(header);
  const buf = Buffer.alloc(8 + json.length + 8);
  buf.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(buf, 8);
  buf.writeFloatLE(1.5, 8 + json.length);
  buf.writeFloatLE(-2.25, 12 + json.length);
  assert.notEqual((8 + json.length) % 4, 0);
  const t = decodeSafetensors(buf, "mem").tensors.get("x")!;
  assert.deepEqual([...t.values()], [1.5, -2.25]);
  assert.notEqual(t.storage.buffer, buf.buffer);
  // And from a Uint8Array that itself starts at an odd byte offset of a larger buffer.
  const big = new Uint8Array(buf.length + 3);
  big.set(buf, 3);
  assert.deepEqual([...decodeSafetensors(big.subarray(3), "mem").tensors.get("x")!.values()], [1.5, -2.25]);
});

test("writes atomically: no temp file left behind, an existing file replaced whole", () => {
  const dir = mkdtempSync(join(tmp, "atomic-"));
  const path = join(dir, "w.safetensors");
  writeFileSync(path, "old contents");
  writeSafetensors(path, { w: sample("f32", [4, 4], 9) });
  assert.deepEqual(readdirSync(dir), ["w.safetensors"]);
  assert.deepEqual(rawBytes(readSafetensors(path).tensors.get("w")!), rawBytes(sample("f32", [4, 4], 9)));
});

test("missing files and unreadable paths are ModelFormatErrors naming the path", () => {
  const path = join(tmp, "nope.safetensors");
  assert.throws(() => readSafetensors(path), (e: unknown) => e instanceof ModelFormatError && e.path === path && /ENOENT/.test(e.message));
  assert.throws(() => readSafetensors(tmp), ModelFormatError);
});

test("the writer refuses names it cannot write and tensors without data", () => {
  const t = Tensor.fromValues("f32", [1], [1]);
  assert.throws(() => encodeSafetensors({ __metadata__: t }), (e: unknown) => e instanceof ArgumentError && /__metadata__/.test(e.message));
  assert.throws(() => encodeSafetensors({ "": t }), ArgumentError);
  const abstract = new Tensor("f32", [2], null);
  assert.throws(() => encodeSafetensors({ w: abstract }), (e: unknown) => e instanceof ArgumentError && /'w' has no data/.test(e.message));
});

test("writeSafetensorsFromSources: chunked sources give the bytes writeSafetensors gives; a wrong byte count leaves no file", () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]], { dtype: "f32" });
  const b = tensor([7, 8], { dtype: "bf16" });
  const bytesOf = (t: Tensor) => new Uint8Array(t.raw().buffer, t.raw().byteOffset, t.raw().byteLength);
  const whole = join(tmp, "whole.safetensors");
  const chunked = join(tmp, "chunked.safetensors");
  writeSafetensors(whole, { a, b }, { metadata: { format: "pt" } });
  writeSafetensorsFromSources(chunked, {
    b: { dtype: "bf16", shape: [2], chunks: () => [bytesOf(b)] },
    a: { dtype: "f32", shape: [2, 3], chunks: function* () { yield bytesOf(a).subarray(0, 8); yield bytesOf(a).subarray(8); } },
  }, { metadata: { format: "pt" } });
  assert.deepEqual(readFileSync(chunked), readFileSync(whole));
  const short = join(tmp, "short.safetensors");
  assert.throws(
    () => writeSafetensorsFromSources(short, { a: { dtype: "f32", shape: [2, 3], chunks: () => [bytesOf(a).subarray(4)] } }),
    (e: unknown) => e instanceof ArgumentError && /'a' gave 20 bytes, its shape and dtype need 24/.test(e.message),
  );
  assert.ok(!readdirSync(tmp).some((f) => f.includes("short")), "no file, no temp file");
});
