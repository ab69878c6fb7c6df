// Safetensors fuzzing (issue 5, acceptance 5): every malformed file is a ModelFormatError, never a crash or a hang.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeSafetensors, encodeSafetensors, parseSafetensorsHeader } from "../../src/models/index.js";
import { ITEM_SIZE, Tensor, mulberry32 } from "../../src/tensor/index.js";
import { ModelFormatError } from "../../src/util/index.js";

const valid = encodeSafetensors(
  {
    "a.weight": Tensor.fromValues("f32", [2, 3], [1, -2, 3.5, 4, 5, 6]),
    "b.norm": Tensor.fromValues("bf16", [3], [0.5, 1, 2]),
    c: Tensor.fromValues("i64", [2], [7, -8]),
    d: Tensor.fromValues("bool", [3], [1, 0, 1]),
    e: Tensor.fromValues("f16", [], [0.25]),
    z: Tensor.fromValues("i32", [0], []),
  },
  { metadata: { format: "pt" } },
);
const dataStart = parseSafetensorsHeader(valid, "valid").dataStart;

type Outcome = "loaded" | "rejected";

/** Decodes `bytes`: a ModelFormatError is a rejection; any other error fails the test; a load is checked for sense. */
function outcome(bytes: Uint8Array, what: string): Outcome {
  let tensors: ReadonlyMap<string, Tensor>;
  try {
    tensors = decodeSafetensors(bytes, "fuzz.safetensors").tensors;
  } catch (e) {
    if (e instanceof ModelFormatError) {
      assert.equal(e.path, "fuzz.safetensors", what);
      return "rejected";
    }
    assert.fail(`${what}: threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  checkLoaded(bytes, tensors, what);
  return "loaded";
}

/** A file that loads must load the same way twice, with every tensor the exact bytes its header entry names. */
function checkLoaded(bytes: Uint8Array, tensors: ReadonlyMap<string, Tensor>, what: string): void {
  const h = parseSafetensorsHeader(bytes, "again");
  assert.deepEqual([...tensors.keys()], h.entries.map((e) => e.name), what);
  const ranges: [number, number][] = [];
  for (const e of h.entries) {
    const t = tensors.get(e.name)!;
    assert.equal(t.dtype, e.dtype, what);
    assert.deepEqual(t.shape, e.shape, what);
    assert.ok(e.end <= bytes.length - h.dataStart, what);
    assert.equal(e.end - e.begin, t.size * ITEM_SIZE[t.dtype], what);
    const r = t.raw();
    assert.deepEqual(new Uint8Array(r.buffer, r.byteOffset, r.byteLength), bytes.subarray(h.dataStart + e.begin, h.dataStart + e.end), what);
    if (e.end > e.begin) ranges.push([e.begin, e.end]);
  }
  ranges.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i]![0] >= ranges[i - 1]![1], `${what}: overlap accepted`);
}

/** A file from header text (or raw header bytes) and data bytes; `declaredLength` overrides the length prefix. */
function file(header: string | Uint8Array, data: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const json = typeof header === "string" ? Buffer.from(header, "utf8") : header;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function rejects(bytes: Uint8Array, message: RegExp, tensorName?: string): void {
  assert.throws(
    () => decodeSafetensors(bytes, "fuzz.safetensors"),
    (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, `expected ModelFormatError, got ${String(e)}`);
      assert.match(e.message, message);
      assert.equal(e.tensorName, tensorName);
      return true;
    },
  );
}

const entry = (dtype: unknown, shape: unknown, offsets: unknown): string => JSON.stringify({ dtype, shape, data_offsets: offsets });

test("the unfuzzed file loads", () => {
  assert.equal(outcome(valid, "valid"), "loaded");
});

test("truncated at every offset: always rejected", { timeout: 30_000 }, () => {
  for (let n = 0; n < valid.length; n++) {
    assert.equal(outcome(valid.subarray(0, n), `truncated to ${n}`), "rejected", `truncated to ${n} bytes`);
  }
  // Trailing bytes after the data section are tolerated.
  const longer = new Uint8Array(valid.length + 5);
  longer.set(valid);
  assert.equal(outcome(longer, "trailing bytes"), "loaded");
});

test("random byte flips in the header (seeded): rejected or consistently loaded", { timeout: 30_000 }, () => {
  const rand = mulberry32(20240605);
  const counts = { loaded: 0, rejected: 0 };
  for (let i = 0; i < 400; i++) {
    const bytes = valid.slice();
    const flips = 1 + Math.floor(rand() * 3);
    for (let f = 0; f < flips; f++) {
      const at = Math.floor(rand() * dataStart);
      bytes[at] = rand() < 0.5 ? bytes[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
    }
    counts[outcome(bytes, `header flip case ${i}`)]++;
  }
  assert.ok(counts.loaded > 0 && counts.rejected > 0, JSON.stringify(counts));
});

test("random digit changes in the header (seeded, JSON stays valid): shape/offset checks hold", { timeout: 30_000 }, () => {
  const rand = mulberry32(99);
  const digits: number[] = [];
  for (let i = 8; i < dataStart; i++) if (valid[i]! >= 0x30 && valid[i]! <= 0x39) digits.push(i);
  const counts = { loaded: 0, rejected: 0 };
  for (let i = 0; i < 300; i++) {
    const bytes = valid.slice();
    const changes = 1 + Math.floor(rand() * 2);
    for (let c = 0; c < changes; c++) bytes[digits[Math.floor(rand() * digits.length)]!] = 0x30 + Math.floor(rand() * 10);
    counts[outcome(bytes, `digit case ${i}`)]++;
  }
  assert.ok(counts.loaded > 0 && counts.rejected > 100, JSON.stringify(counts));
});

test("random byte flips anywhere, and random files (seeded): rejected or consistently loaded", { timeout: 30_000 }, () => {
  const rand = mulberry32(7);
  const counts = { loaded: 0, rejected: 0 };
  for (let i = 0; i < 300; i++) {
    const bytes = valid.slice();
    const at = Math.floor(rand() * bytes.length);
    bytes[at] = Math.floor(rand() * 256);
    counts[outcome(bytes, `flip case ${i}`)]++;
  }
  for (let i = 0; i < 200; i++) {
    const len = Math.floor(rand() * 80);
    const bytes = new Uint8Array(len);
    for (let k = 0; k < len; k++) bytes[k] = Math.floor(rand() * 256);
    // Half of them with a plausible length prefix, so the JSON stage is reached too.
    if (len >= 8 && i % 2 === 0) new DataView(bytes.buffer).setBigUint64(0, BigInt(Math.floor(rand() * (len - 7))), true);
    counts[outcome(bytes, `random case ${i}`)]++;
  }
  assert.ok(counts.loaded > 0 && counts.rejected > 0, JSON.stringify(counts));
});

test("header length: too short a file, beyond the file, absurdly large", () => {
  rejects(new Uint8Array(5), /too short for the 8-byte header length/);
  rejects(file("{}", new Uint8Array(0), 1n), /not valid JSON/);
  rejects(file("{}", new Uint8Array(0), 3n), /header length 3 runs past the end of the 10-byte file/);
  rejects(file("{}", new Uint8Array(0), 100n), /runs past the end/);
  rejects(file("{}", new Uint8Array(0), 2n ** 64n - 1n), /over the .*-byte limit/);
  rejects(file("{}", new Uint8Array(0), 0n), /not valid JSON/);
  assert.equal(outcome(file("{}"), "empty header"), "loaded");
  assert.equal(outcome(file('{"__metadata__":{"a":"b"}}'), "metadata only"), "loaded");
});

test("bad header JSON and non-object headers", () => {
  rejects(file('{"a":'), /not valid JSON/);
  rejects(file("[]"), /must be a JSON object, got \[\]/);
  rejects(file("null"), /must be a JSON object/);
  rejects(file("42"), /must be a JSON object/);
  rejects(file('"x"'), /must be a JSON object/);
  rejects(file(Uint8Array.of(0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d)), /not valid UTF-8/);
  rejects(file(`{"a":${entry("F32", [1], [0, 4])}}\0\0\0`, new Uint8Array(4)), /not valid JSON/);
  // Deep nesting is refused before any recursive code (describing the entry) sees it.
  rejects(file(`{"a":{"dtype":${"[".repeat(100_000)}${"]".repeat(100_000)}}}`), /nests deeper than 64 levels/);
});

test("entries: wrong types, unknown and unsupported dtypes", () => {
  const data = new Uint8Array(16);
  rejects(file('{"w":1}', data), /entry must be an object/, "w");
  rejects(file('{"w":[]}', data), /entry must be an object/, "w");
  rejects(file(`{"w":${entry(3, [1], [0, 4])}}`, data), /dtype must be a string/, "w");
  rejects(file(`{"w":${entry("F33", [1], [0, 4])}}`, data), /unknown dtype "F33"/, "w");
  rejects(file(`{"w":${entry("f32", [1], [0, 4])}}`, data), /unknown dtype "f32"/, "w");
  rejects(file(`{"w":${entry("F64", [2], [0, 16])}}`, data), /dtype F64 is not supported by Kiln/, "w");
  rejects(file(`{"w":${entry("U8", [2], [0, 2])}}`, data), /dtype U8 is not supported/, "w");
  rejects(file(`{"w":${entry("F8_E4M3", [2], [0, 2])}}`, data), /not supported/, "w");
  rejects(file(`{"__metadata__":{"a":1}}`, data), /__metadata__\.a must be a string/);
  rejects(file(`{"__metadata__":["a"]}`, data), /__metadata__ must be an object/);
  rejects(file(`{"constructor":${entry("F32", [1], [0, 4])}, "__proto__":5}`, data), /entry must be an object/, "__proto__");
});

test("shapes: negative, fractional, non-numeric, absurdly large", () => {
  const data = new Uint8Array(16);
  rejects(file(`{"w":${entry("F32", [-1], [0, 4])}}`, data), /non-negative integers/, "w");
  rejects(file(`{"w":${entry("F32", [1.5], [0, 4])}}`, data), /non-negative integers/, "w");
  rejects(file(`{"w":${entry("F32", ["1"], [0, 4])}}`, data), /non-negative integers/, "w");
  rejects(file(`{"w":${entry("F32", 4, [0, 4])}}`, data), /shape must be an array/, "w");
  rejects(file(`{"w":${entry("F32", [2 ** 30, 2 ** 30, 2 ** 30], [0, 4])}}`, data), /too many elements/, "w");
  rejects(file(`{"w":${entry("F32", [1e300], [0, 4])}}`, data), /non-negative integers/, "w");
  rejects(file(`{"w":${entry("F32", [2 ** 40], [0, 4])}}`, data), /needs 4398046511104/, "w");
});

test("offsets: out of bounds, reversed, malformed; byte sizes that do not match the shape", () => {
  const data = new Uint8Array(16);
  rejects(file(`{"w":${entry("F32", [2], [12, 20])}}`, data), /run past the 16-byte data section/, "w");
  rejects(file(`{"w":${entry("F32", [2], [2 ** 60, 2 ** 60 + 8])}}`, data), /must be integers/, "w");
  rejects(file(`{"w":${entry("F32", [0], [8, 4])}}`, data), /0 <= begin <= end/, "w");
  rejects(file(`{"w":${entry("F32", [1], [-4, 0])}}`, data), /0 <= begin <= end/, "w");
  rejects(file(`{"w":${entry("F32", [1], [0, 4, 8])}}`, data), /must be \[begin, end\]/, "w");
  rejects(file(`{"w":${entry("F32", [1], ["0", "4"])}}`, data), /must be integers/, "w");
  rejects(file(`{"w":{"dtype":"F32","shape":[1]}}`, data), /must be \[begin, end\], got nothing/, "w");
  rejects(file(`{"w":${entry("F32", [3], [0, 8])}}`, data), /holds 8 bytes, but shape \[3\] of F32 needs 12/, "w");
  rejects(file(`{"w":${entry("BF16", [3], [0, 12])}}`, data), /holds 12 bytes, but shape \[3\] of BF16 needs 6/, "w");
  rejects(file(`{"w":${entry("I64", [], [0, 4])}}`, data), /needs 8/, "w");
});

test("overlapping tensors and duplicate names", () => {
  const data = new Uint8Array(16);
  rejects(file(`{"a":${entry("F32", [2], [0, 8])},"b":${entry("F32", [2], [4, 12])}}`, data), /overlap tensor 'a'/, "b");
  rejects(file(`{"b":${entry("F32", [2], [4, 12])},"a":${entry("F32", [4], [0, 16])}}`, data), /overlap tensor 'a'/, "b");
  rejects(file(`{"a":${entry("F32", [2], [0, 8])},"a":${entry("F32", [2], [8, 16])}}`, data), /appears twice/, "a");
  rejects(file(`{"a\\u0062":${entry("F32", [2], [0, 8])},"ab":${entry("F32", [2], [8, 16])}}`, data), /appears twice/, "ab");
  // Nested keys with the same name are not duplicates; empty tensors may share any offset; gaps are allowed.
  const ok = file(
    `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":{"a":1}},"e1":${entry("F32", [0], [4, 4])},"e2":${entry("I64", [0, 3], [4, 4])},"c":${entry("F16", [2], [12, 16])}}`,
    data,
  );
  assert.equal(outcome(ok, "nested keys, empty tensors, gap"), "loaded");
});

test("bool tensors must hold 0 or 1", () => {
  rejects(file(`{"m":${entry("BOOL", [3], [0, 3])}}`, Uint8Array.of(1, 2, 0)), /bool element 1 holds byte 2/, "m");
  assert.equal(outcome(file(`{"m":${entry("BOOL", [3], [0, 3])}}`, Uint8Array.of(1, 0, 1)), "bool"), "loaded");
});
