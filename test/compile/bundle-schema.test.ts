// Content that passes its checksums but is malformed — a header of null, a missing or partial manifest, a
// program of the wrong shape, a bad sections.json — is a BundleCorruptError (log, recompile, replace),
// never a TypeError or SyntaxError.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { KILN_VERSION, aotCompile, loadCompiledFunction, readManifest } from "../../src/compile/index.js";
import { decodeBundle, encodeBundle, readUnpacked, writeUnpacked } from "../../src/cache/index.js";
import { BundleCorruptError } from "../../src/util/index.js";
import { type Tensor, randn } from "../../src/index.js";

const opts = { kilnVersion: KILN_VERSION };
const good = aotCompile((x: Tensor) => x.mul(2), [randn([3])], { backend: "js" }).serialize();
const sections = decodeBundle(good, opts).sections;
const json = (name: string) => JSON.parse(new TextDecoder().decode(sections.get(name)));
const withSection = (name: string, value: unknown) =>
  encodeBundle(new Map([...sections, [name, new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value))]]), opts);
const without = (name: string) => encodeBundle(new Map([...sections].filter(([n]) => n !== name)), opts);

const corrupt = (section: string) => (e: unknown) => e instanceof BundleCorruptError && e.section === section;

test("a header of JSON null is a BundleCorruptError", () => {
  const bytes = new Uint8Array(good);
  const header = new TextEncoder().encode("null");
  const out = new Uint8Array(16 + header.length);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, header.length, true);
  out.set(header, 16);
  assert.throws(() => loadCompiledFunction(out), corrupt("header"));
  assert.throws(() => readManifest(out), BundleCorruptError);
});

test("a missing, non-JSON or partial manifest is a BundleCorruptError naming the field", () => {
  assert.throws(() => loadCompiledFunction(without("manifest")), corrupt("manifest"));
  assert.throws(() => loadCompiledFunction(withSection("manifest", "{not json")), corrupt("manifest"));
  assert.throws(() => loadCompiledFunction(withSection("manifest", [])), corrupt("manifest"));
  for (const field of ["factors", "args", "symbols", "output_spec", "backend"]) {
    const m = json("manifest");
    delete m[field];
    assert.throws(() => loadCompiledFunction(withSection("manifest", m)), (e: unknown) => corrupt("manifest")(e) && (e as Error).message.includes(field), field);
  }
  const m = json("manifest");
  delete m.factors.cpu_features;
  assert.throws(() => loadCompiledFunction(withSection("manifest", m)), /factors\.cpu_features/);
  assert.throws(() => readManifest(withSection("manifest", m)), /factors\.cpu_features/);
});

test("a program of the wrong shape, or JS that does not parse, is a BundleCorruptError", () => {
  assert.throws(() => loadCompiledFunction(without("program")), corrupt("program"));
  const p = json("program");
  p.buffers = [{ id: "x" }];
  assert.throws(() => loadCompiledFunction(withSection("program", p)), corrupt("program"));
  assert.throws(() => loadCompiledFunction(withSection("source.js", "return ((;")), BundleCorruptError);
  assert.ok(loadCompiledFunction(good), "the untouched bundle still loads");
});

test("a malformed sections.json is a BundleCorruptError", () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-unpacked-"));
  try {
    const folder = join(dir, "model.kiln.d");
    writeUnpacked(good, folder, opts);
    for (const bad of ["null", "{}", '{"sections": 3}', '{"sections": [{"name": 1}]}', '{"sections": [{"name": "x", "file": "../../etc/passwd", "sha256": "0"}]}', "[", '{"sections": [], "hmac": 7}']) {
      writeFileSync(join(folder, "sections.json"), bad);
      assert.throws(() => readUnpacked(folder, opts), BundleCorruptError, bad);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
