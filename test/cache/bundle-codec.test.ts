import assert from "node:assert/strict";
import { test } from "node:test";
import { BUNDLE_FORMAT_VERSION, decodeBundle, encodeBundle } from "../../src/cache/index.js";
import { BundleCorruptError, GuardMismatchError } from "../../src/util/index.js";

const enc = new TextEncoder();
const sections = new Map<string, Uint8Array>([
  ["manifest", enc.encode(JSON.stringify({ prefix: "model", key: "abc" }))],
  ["graph", enc.encode("graph() { return () }")],
  ["objects/k0.so", Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 255)],
  ["empty", new Uint8Array(0)],
]);
const opts = { kilnVersion: "0.1.0", path: "test.kiln" };

test("a bundle round-trips its sections exactly", () => {
  const bytes = encodeBundle(sections, opts);
  const back = decodeBundle(bytes, opts);
  assert.equal(back.formatVersion, BUNDLE_FORMAT_VERSION);
  assert.equal(back.kilnVersion, "0.1.0");
  assert.deepEqual([...back.sections.keys()], [...sections.keys()]);
  for (const [k, v] of sections) assert.deepEqual(back.sections.get(k), v);
});

test("truncation at every offset is detected as corruption", () => {
  const bytes = encodeBundle(sections, opts);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeBundle(bytes.subarray(0, n), opts), BundleCorruptError, `truncated at ${n}`);
  }
});

test("a flipped byte anywhere is detected, naming the section when it is in one", () => {
  const bytes = encodeBundle(sections, opts);
  const dataStart = bytes.length - [...sections.values()].reduce((a, s) => a + s.length, 0);
  for (let i = 0; i < bytes.length; i++) {
    const bad = bytes.slice();
    bad[i] ^= 0x20;
    let err: unknown;
    try {
      decodeBundle(bad, opts);
    } catch (e) {
      err = e;
    }
    // Flipping a header byte can only keep the file loadable if it hits a character the
    // JSON ignores; then the sections still verify, so the content is unchanged.
    if (err === undefined) {
      assert.ok(i >= 16 && i < dataStart, `byte ${i} flipped without detection`);
      continue;
    }
    assert.ok(err instanceof BundleCorruptError || err instanceof GuardMismatchError, `byte ${i}: ${String(err)}`);
    if (i >= dataStart + sections.get("manifest")!.length + sections.get("graph")!.length && i < bytes.length) {
      assert.equal((err as BundleCorruptError).section, "objects/k0.so");
    }
  }
});

test("wrong magic and another format version say what they are", () => {
  const bytes = encodeBundle(sections, opts);
  const bad = bytes.slice();
  bad[0] = 0x58;
  assert.throws(() => decodeBundle(bad, opts), /bad magic/);
  const other = encodeBundle(sections, { ...opts, kilnVersion: "0.0.9", formatVersion: BUNDLE_FORMAT_VERSION + 1 });
  assert.throws(
    () => decodeBundle(other, opts),
    (e: unknown) =>
      e instanceof GuardMismatchError &&
      e.message.includes(`built by kiln 0.0.9 (format ${BUNDLE_FORMAT_VERSION + 1}), running 0.1.0 (format ${BUNDLE_FORMAT_VERSION})`),
  );
});

test("a signing key refuses unsigned and wrongly signed bundles", () => {
  const unsigned = encodeBundle(sections, opts);
  assert.throws(() => decodeBundle(unsigned, { ...opts, signingKey: "k1" }), (e: unknown) => e instanceof GuardMismatchError && e.guard === "signature");
  const signed = encodeBundle(sections, { ...opts, signingKey: "k1" });
  assert.equal(decodeBundle(signed, { ...opts, signingKey: "k1" }).signed, true);
  assert.throws(() => decodeBundle(signed, { ...opts, signingKey: "k2" }), /wrong signature/);
});
