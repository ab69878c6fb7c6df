import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type Tensor, add, loadOrCompile, mul, randn, setLogSink } from "../../src/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { decodeBundle, encodeBundle } from "../../src/cache/index.js";
import { KILN_VERSION } from "../../src/compile/index.js";
import { cacheClear, cacheInfo, cacheLs, cachePrune, cacheVerify, listEntries, parseSize } from "../../src/cli/cache-command.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-cli-cache-"));
const saved = process.env.KILN_CACHE_DIR;
let restoreLog: ReturnType<typeof setLogSink>;
before(() => {
  process.env.KILN_CACHE_DIR = dir;
  restoreLog = setLogSink(() => {});
  loadOrCompile((x: Tensor) => add(x, 1), [randn([2])], { backend: "js", prefix: "a" });
  loadOrCompile((x: Tensor) => mul(x, 2), [randn([2])], { backend: "js", prefix: "b" });
});
after(() => {
  setLogSink(restoreLog);
  if (saved === undefined) delete process.env.KILN_CACHE_DIR;
  else process.env.KILN_CACHE_DIR = saved;
  rmSync(dir, { recursive: true, force: true });
});

test("ls lists each bundle with its prefix and backend; info prints its manifest", () => {
  const lines: string[] = [];
  cacheLs((l) => lines.push(l));
  assert.equal(lines.length, 2);
  assert.ok(lines.some((l) => / a +/.test(l) && l.includes("js")));
  const info: string[] = [];
  cacheInfo(listEntries()[0]!.key.slice(0, 8), (l) => info.push(l));
  assert.match(info.join("\n"), /"factors"/);
});

test("verify reports and removes a truncated bundle; prune and clear shrink the cache", () => {
  const [victim] = listEntries();
  truncateSync(victim!.path, 100);
  const lines: string[] = [];
  assert.equal(cacheVerify(true, (l) => lines.push(l)), 1);
  assert.ok(lines.some((l) => l.startsWith("bad") && l.includes("(removed)")));
  assert.equal(listEntries().length, 1);
  assert.ok(readFileSync(listEntries()[0]!.path).length > 0);
  cachePrune(0, () => {});
  assert.equal(listEntries().length, 0);
  cacheClear(() => {});
  assert.equal(parseSize("2G"), 2 * 1024 ** 3);
  assert.throws(() => parseSize("lots"), /not a size/);
});

test("native cache: verify checks bundles and stored objects without loading them, removes the damaged; prune removes objects too", { skip: hasToolchain() ? false : "no C compiler" }, () => {
  const fn = (x: Tensor) => add(mul(x, 3), 1);
  loadOrCompile(fn, [randn([4])], { backend: "native", prefix: "n" });
  const objects = join(dir, "objects");
  const so = readdirSync(objects).filter((f) => f.endsWith(".so"));
  assert.ok(so.length >= 1);
  const lines: string[] = [];
  assert.equal(cacheVerify(false, (l) => lines.push(l)), 0, lines.join("\n"));
  // A bundle whose object is not ELF (checksums recomputed, as a planted bundle would be) and a damaged store object.
  const [entry] = listEntries().filter((e) => e.prefix === "n");
  const { sections } = decodeBundle(readFileSync(entry!.path), { kilnVersion: KILN_VERSION });
  writeFileSync(entry!.path, encodeBundle(new Map([...sections, ["object", new Uint8Array(4096).fill(0xcc)]]), { kilnVersion: KILN_VERSION }));
  writeFileSync(join(objects, so[0]!), "garbage");
  const bad: string[] = [];
  assert.equal(cacheVerify(true, (l) => bad.push(l)), 2, bad.join("\n"));
  assert.ok(bad.some((l) => /not an ELF file \(removed\)/.test(l)), bad.join("\n"));
  assert.ok(bad.some((l) => /objects\/.*do not match.*\(removed\)|objects\/.*bytes.*\(removed\)/.test(l)), bad.join("\n"));
  assert.equal(cacheVerify(false, () => {}), 0, "what remains verifies");
  loadOrCompile(fn, [randn([4])], { backend: "native", prefix: "n" });
  cachePrune(0, () => {});
  assert.deepEqual(readdirSync(objects).filter((f) => /\.(so|o|ref)$/.test(f)), []);
});

test("prune removes a malformed store record alone: no path is built from a digest it does not check", () => {
  const root = mkdtempSync(join(tmpdir(), "kiln-prune-"));
  const saved = process.env.KILN_CACHE_DIR;
  try {
    const cache = join(root, "cache");
    process.env.KILN_CACHE_DIR = cache;
    const objects = join(cache, "objects");
    mkdirSync(objects, { recursive: true, mode: 0o700 });
    chmodSync(cache, 0o700);
    const victim = join(root, "victim.so");
    writeFileSync(victim, "not the cache's");
    writeFileSync(join(objects, "evil.ref"), JSON.stringify({ v: 1, sha256: "../../victim", size: 1 }));
    cachePrune(0, () => {});
    assert.ok(existsSync(victim), "a file outside the cache survives");
    assert.equal(existsSync(join(objects, "evil.ref")), false, "the malformed record is pruned");
  } finally {
    if (saved === undefined) delete process.env.KILN_CACHE_DIR;
    else process.env.KILN_CACHE_DIR = saved;
    rmSync(root, { recursive: true, force: true });
  }
});
