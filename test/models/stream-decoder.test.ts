// StreamDecoder over a byte-level decoder (each id is one byte, decoded as UTF-8 with U+FFFD for bad bytes):
// deltas never split a character and always concatenate to the whole decode, even for invalid byte runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StreamDecoder } from "../../src/models/index.js";
import { mulberry32 } from "../../src/tensor/index.js";

const bytes = (ids: readonly number[]) => new TextDecoder().decode(Uint8Array.from(ids));
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

function stream(ids: readonly number[]): string[] {
  const s = new StreamDecoder(bytes);
  const out = ids.map((id) => s.push(id));
  out.push(s.flush());
  return out;
}

test("a 4-byte character split over 4 tokens appears whole with its last byte", () => {
  assert.deepEqual(stream(utf8("a😀b")), ["a", "", "", "", "😀", "b", ""]);
  assert.deepEqual(stream(utf8("é中")), ["", "é", "", "", "中", ""]);
});

test("invalid bytes come out as U+FFFD once it is certain, and a cut-short tail on flush", () => {
  // 0x80 is a lone continuation byte; 0xE4 0xB8 is a 3-byte sequence cut short by "A", then by the end.
  assert.deepEqual(stream([0x41, 0x80, 0x42, 0xe4, 0xb8, 0x41, 0xe4, 0xb8]), ["A", "", "\uFFFDB", "", "", "\uFFFDA", "", "", "\uFFFD"]);
});

test("random byte streams: deltas concatenate to the whole decode and hold no character that later changes", () => {
  const rand = mulberry32(11);
  const pool = [...utf8("aé中😀"), 0x80, 0xbf, 0xc3, 0xe4, 0xf0, 0xff, 0x20];
  for (let trial = 0; trial < 300; trial++) {
    const ids = Array.from({ length: 1 + Math.floor(rand() * 24) }, () => pool[Math.floor(rand() * pool.length)]!);
    const deltas = stream(ids);
    const whole = bytes(ids);
    assert.equal(deltas.join(""), whole, JSON.stringify(ids));
    let emitted = "";
    ids.forEach((_, i) => {
      emitted += deltas[i];
      assert.ok(bytes(ids.slice(0, i + 1)).startsWith(emitted) && whole.startsWith(emitted), `${JSON.stringify(ids)} at ${i}`);
    });
  }
});

test("push takes several ids at once; ids lists everything pushed", () => {
  const s = new StreamDecoder(bytes);
  assert.equal(s.push(...utf8("hé")), "hé");
  assert.equal(s.push(...utf8("😀").slice(0, 2)), "");
  assert.equal(s.push(...utf8("😀").slice(2)), "😀");
  assert.deepEqual(s.ids, utf8("hé😀"));
});
