// Checkpoints are mapped, not copied, when a compiler has built the mapper into the cache's
// objects: the same bytes as a read, and a mapped buffer stays valid and writable (copy-on-write).
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { loadCheckpoint, mapFileBytes } from "../../src/models/index.js";
import { projectRoot } from "../helpers/root.js";

const skip = hasToolchain() ? false : "no C compiler or Node's N-API headers (see KILN_CC)";
const file = join(projectRoot(), "test", "fixtures", "tiny-qwen3", "model.safetensors");

test("mapFileBytes maps through a helper built once into the cache's objects; bytes equal a plain read", { skip }, () => {
  const cache = mkdtempSync(join(tmpdir(), "kiln-map-"));
  const saved = { backend: process.env.KILN_BACKEND, dir: process.env.KILN_CACHE_DIR };
  process.env.KILN_BACKEND = "native";
  process.env.KILN_CACHE_DIR = cache;
  try {
    const mapped = mapFileBytes(file);
    assert.ok(readdirSync(join(cache, "objects")).some((f) => f.startsWith("file-map-")), "the mapper object is in the cache, under its own name");
    assert.deepEqual(Buffer.from(mapped.buffer, mapped.byteOffset, mapped.byteLength).equals(readFileSync(file)), true);
    mapped[0] ^= 0xff; // private mapping: writing never reaches the file
    assert.equal(readFileSync(file)[0], mapped[0]! ^ 0xff);
    const ckpt = loadCheckpoint(join(projectRoot(), "test", "fixtures", "tiny-qwen3"));
    assert.ok(ckpt.tensors.get("model.norm.weight")!.values().every((v) => Number.isFinite(v)));
  } finally {
    for (const [name, value] of [["KILN_BACKEND", saved.backend], ["KILN_CACHE_DIR", saved.dir]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(cache, { recursive: true, force: true });
  }
});
