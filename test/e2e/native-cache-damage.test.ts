// Acceptance: damage any one file under a native cache — the bundle, each object and its record, the runtime
// object, the mapper, the compiler probe — by flipped bytes, by 512 bytes of 0xCC at several offsets, or by truncation to zero
// (for files outside the bundle, the bundle is removed too so the store is used). Every time the next
// `kiln generate` exits 0 with the same tokens, and the damage is detected (a refused object, a bundle miss).
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { projectRoot } from "../helpers/root.js";
import { runKiln } from "../helpers/kiln-cli.js";

const skip = !hasToolchain() && "no C compiler";
const model = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const PROMPT = ["--prompt-ids", "3,14,15,92", "--max-tokens", "3"];

interface GenJson {
  generated_ids: number[];
  compile: { compiler_invocations: number; objects_rejected: number; outcomes: string[]; cache_misses: string[]; log: string[] };
}

function generate(cache: string): GenJson {
  const r = runKiln(["generate", "--model", model, ...PROMPT, "--json", "--backend", "native"], { env: { KILN_CACHE_DIR: cache } });
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as GenJson;
}

type Damage = (file: string) => void;

const DAMAGES: Record<string, Damage> = {
  "flipped bytes": (file) => {
    const b = readFileSync(file);
    for (const at of [0, b.length >> 1, b.length - 1]) b[at] = b[at]! ^ 0x5a;
    writeFileSync(file, b);
  },
  "512 bytes of 0xCC at several offsets": (file) => {
    const b = readFileSync(file);
    for (const at of [0, b.length >> 2, b.length >> 1, Math.max(0, b.length - 512)]) b.fill(0xcc, at, Math.min(b.length, at + 512));
    writeFileSync(file, b);
  },
  "truncation to zero": (file) => truncateSync(file, 0),
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map((f) => join(dir, String(f))).filter((p) => statSync(p).isFile());
}

test("damaging any one file of a native cache never crashes a run and never changes its tokens", { skip, timeout: 900_000 }, () => {
  const base = mkdtempSync(join(tmpdir(), "kiln-damage-"));
  try {
    const warm = join(base, "warm");
    const want = generate(warm).generated_ids;
    const bundle = filesUnder(warm).find((f) => f.endsWith("model.kiln"))!;
    const objects = filesUnder(join(warm, "objects"));
    assert.ok(objects.some((f) => f.endsWith(".so")) && objects.some((f) => f.endsWith(".ref")) && objects.some((f) => /compiler-.*\.json$/.test(f)));
    // The runtime's relocatable objects (one per C unit) are all alike: the smallest one and its record stand for them.
    const recordOf = (object: string) => objects.find((f) => f.endsWith(".ref") && readFileSync(f, "utf8").includes(basename(object, ".o")))!;
    const runtime = objects.filter((f) => f.endsWith(".o")).sort((a, b) => statSync(a).size - statSync(b).size);
    assert.ok(runtime.length > 0, "the runtime is built into the store");
    const runtimeRecords = new Set(runtime.map(recordOf));
    const targets = [bundle, ...objects.filter((f) => !f.endsWith(".o") && !runtimeRecords.has(f)), runtime[0]!, recordOf(runtime[0]!)];
    let n = 0;
    for (const target of targets) {
      for (const [how, damage] of Object.entries(DAMAGES)) {
        const cache = join(base, `case${n++}`);
        cpSync(warm, cache, { recursive: true });
        const rel = relative(warm, target);
        damage(join(cache, rel));
        if (target !== bundle) rmSync(join(cache, relative(warm, bundle)));
        const run = generate(cache);
        const what = `${rel}, ${how}`;
        assert.deepEqual(run.generated_ids, want, what);
        if (target === bundle) assert.ok(run.compile.cache_misses.some((m) => /unusable/.test(m)), `${what}: ${run.compile.log.join(" | ")}`);
        else if (!/compiler-/.test(rel)) assert.ok(run.compile.objects_rejected >= 1, `${what}: the damage is detected (${run.compile.log.join(" | ")})`);
        if (how === "truncation to zero") {
          // Rebuilt, not left behind: a second run on the repaired cache loads without refusing anything.
          const again = generate(cache);
          assert.deepEqual(again.generated_ids, want, what);
          assert.equal(again.compile.objects_rejected, 0, `${what}: repaired`);
          assert.deepEqual(again.compile.outcomes, ["loaded"], what);
        }
        rmSync(cache, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
