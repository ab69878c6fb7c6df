// The fleet cache over a shared folder (KILN_CACHE_REMOTE=file:///dir), as replicas run it: `kiln generate` processes
// with their own empty local caches. One compiles and publishes; the next loads what it published with no trace and no
// compile; a damaged or planted store is a logged miss and a local compile, never a crash; a read-only store is never
// written; a bad KILN_CACHE_REMOTE is one typed line.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, test } from "node:test";
import * as tar from "tar";
import { FolderRemote, RedisRemote, parseEntry, parseRemotes, publish, readThrough, remoteEntryName } from "../../src/cache/index.js";
import { hasToolchain } from "../../src/backend/index.js";
import { ArgumentError, sha256Hex } from "../../src/util/index.js";
import { FLEET_GREEDY as greedy, replica as runReplica, replicasAtOnce } from "../helpers/fleet-replica.js";
import { TINY_QWEN3_DIR } from "../helpers/tiny-qwen3.js";

const cli = fileURLToPath(new URL(`../../src/cli/main${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "kiln-fleet-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

let replicas = 0;
const replica = (remote: string, backend: "js" | "native" | "auto" = "js", env: Record<string, string> = {}) => runReplica(join(tmp, `local-${replicas++}`), remote, { backend, env });

const remoteOf = (name: string, options = "") => `${pathToFileURL(join(tmp, name)).href}${options}`;
const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : []);

test("a replica with an empty local cache loads what another published: no trace, no compile, the same tokens, kept locally", { skip: hasToolchain() ? false : "no C compiler" }, () => {
  const remote = remoteOf("fleet-native");
  const first = replica(remote, "native", { KILN_BACKEND: "native" });
  assert.deepEqual(first.outcomes, ["compiled"]);
  assert.ok(first.compilerInvocations > 0);
  assert.ok(first.log.some((l) => /published model to the fleet cache \(1 store\)/.test(l)), first.log.join("\n"));
  const [blob] = files(join(tmp, "fleet-native", "cas"));
  assert.ok(blob, "a blob in cas/");
  assert.equal(sha256Hex(readFileSync(blob)), blob.split("/").pop(), "the blob is named by its sha256");
  assert.equal(files(join(tmp, "fleet-native", "ac")).filter((f) => !f.includes("file-map-")).length, 1, "one bundle entry in ac/");

  const second = replica(remote, "native", { KILN_BACKEND: "native" });
  assert.deepEqual(second.ids, greedy);
  assert.deepEqual(second.ids, first.ids);
  assert.deepEqual(second.outcomes, ["remote"]);
  assert.equal(second.traces, 0);
  assert.equal(second.compilerInvocations, 0);
  assert.ok(second.log.some((l) => l.includes(`loaded model from the fleet cache ${remote}`)), second.log.join("\n"));

  assert.equal(files(join(tmp, "fleet-native", "ac")).filter((f) => f.includes("file-map-")).length, 1, "the weights mapper is published too");

  // A replica image without a C compiler (backend auto) runs the native bundle the fleet has, and maps its weights
  // with the mapper the fleet has (kept in its local objects store).
  const bare = join(tmp, "no-compiler");
  const noCompiler = runReplica(bare, remote, { backend: "auto", env: { KILN_CC: join(tmp, "no-such-cc"), KILN_BACKEND: "auto" } });
  assert.deepEqual(noCompiler.outcomes, ["remote"]);
  assert.deepEqual(noCompiler.ids, greedy);
  assert.equal(noCompiler.compilerInvocations, 0);
  assert.ok(readdirSync(join(bare, "objects")).some((f) => f.endsWith(".ref")), "the mapper came from the fleet");
});

test("a damaged blob or a planted entry is a logged miss and a local compile; the store is then repaired by the publish", () => {
  const remote = remoteOf("fleet-damaged");
  replica(remote);
  const [blob] = files(join(tmp, "fleet-damaged", "cas"));
  const bytes = readFileSync(blob!);
  bytes[bytes.length >> 1] ^= 0xff; // a byte in the middle
  writeFileSync(blob!, bytes);
  const damaged = replica(remote);
  assert.deepEqual(damaged.ids, greedy);
  assert.deepEqual(damaged.outcomes, ["compiled"]);
  assert.ok(damaged.log.some((l) => /does not match its recorded sha256/.test(l)), damaged.log.join("\n"));

  const [entry] = files(join(tmp, "fleet-damaged", "ac"));
  writeFileSync(entry!, '{"digest":"../../etc/passwd","size":1}');
  const planted = replica(remote);
  assert.deepEqual(planted.ids, greedy);
  assert.deepEqual(planted.outcomes, ["compiled"]);
  assert.ok(planted.log.some((l) => /fleet cache .* failed \(reading an entry: .*lacks a field or has one of the wrong type\)/.test(l)), planted.log.join("\n"));
});

test("?readonly reads through and never publishes; a store that cannot be written never fails the run", () => {
  const writable = remoteOf("fleet-ro");
  replica(writable); // publishes
  const ro = replica(remoteOf("fleet-ro", "?readonly"));
  assert.deepEqual(ro.outcomes, ["remote"]);
  const emptyRo = replica(remoteOf("fleet-ro-empty", "?readonly"));
  assert.deepEqual(emptyRo.outcomes, ["compiled"]);
  assert.equal(existsSync(join(tmp, "fleet-ro-empty")), false, "nothing written to a read-only store");
  // A store below a regular file can be neither read nor written: one warning, a normal run.
  writeFileSync(join(tmp, "not-a-folder"), "");
  const broken = replica(`${pathToFileURL(join(tmp, "not-a-folder", "fleet")).href},${writable}`);
  assert.deepEqual(broken.ids, greedy);
  assert.deepEqual(broken.outcomes, ["remote"], "the second store serves when the first cannot");
});

test("stores with a prefix are separate; entries and blobs are checked before use", () => {
  const dir = join(tmp, "unit");
  const a = new FolderRemote("a", dir, false, "a");
  const b = new FolderRemote("b", dir, false, "b");
  const name = remoteEntryName("k".repeat(32), 0, 1, "model/part");
  assert.equal(name, `${"k".repeat(32)}.rank0_1.model~part`);
  const bytes = new TextEncoder().encode("bundle bytes");
  assert.equal(publish([a], name, bytes, { kiln_version: "v", key: "k", compile_ms: 1, producer: "p", created_at: "t" }), 1);
  assert.equal(readThrough([b], name), undefined, "prefix b does not see prefix a");
  const got = readThrough([b, a], name);
  assert.deepEqual(got?.bytes, Buffer.from(bytes));
  assert.equal(got?.entry.digest, sha256Hex(bytes));
  assert.throws(() => parseEntry("[]", "x"), /lacks a field/);
  assert.throws(() => parseEntry("{", "x"), /not JSON/);
  assert.throws(() => a.getBlob("../x"), /not a sha256 digest/);
});

test("KILN_CACHE_REMOTE: options parsed, a bad URL is a typed error naming the variable", () => {
  const [ro] = parseRemotes(`${remoteOf("p")}?readonly&prefix=team1`);
  assert.equal(ro!.readonly, true);
  assert.deepEqual(parseRemotes(""), []);
  const [redis, folder] = parseRemotes(`redis://127.0.0.1:6379/2?timeout_ms=100,${remoteOf("q")}`);
  assert.ok(redis instanceof RedisRemote && !redis.readonly);
  assert.ok(folder instanceof FolderRemote);
  const badUrls = ["not a url", "http://x/y", "file://host/dir", `${remoteOf("p")}?bogus=1`, `${remoteOf("p")}?prefix=../x`, "redis://h:1?timeout_ms=0"];
  for (const bad of badUrls) {
    assert.throws(() => parseRemotes(bad), (e: unknown) => e instanceof ArgumentError && e.message.includes("KILN_CACHE_REMOTE"), bad);
  }
  const r = spawnSync(process.execPath, [...process.execArgv, cli, "generate", "--model", TINY_QWEN3_DIR, "--prompt-ids", "1,2", "--max-tokens", "2", "--backend", "js"], {
    env: { ...process.env, KILN_CACHE_DIR: join(tmp, "bad-remote"), KILN_CACHE_REMOTE: "ftp://x" },
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^kiln: E_ARGUMENT: .*KILN_CACHE_REMOTE: 'ftp:\/\/x' is neither file:\/\/ nor redis:\/\//);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1);
});

function kiln(args: readonly string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [...process.execArgv, cli, ...args], { env: { ...process.env, KILN_CACHE_DIR: join(tmp, "keys-cache"), ...env }, encoding: "utf8", timeout: 60_000 });
}

test("Ed25519: what key 1 signed loads where key 1 is trusted, is refused where only key 2 is, and an altered entry is refused", () => {
  const keys = (n: number) => {
    const dir = join(tmp, `key${n}`);
    const r = kiln(["cache", "keygen", "--out", dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /key id [0-9a-f]{16}/);
    assert.equal(statSync(join(dir, "kiln-cache.key")).mode & 0o777, 0o600, "the private key is private");
    return { key: join(dir, "kiln-cache.key"), pub: join(dir, "kiln-cache.pub") };
  };
  const [k1, k2] = [keys(1), keys(2)];
  const again = kiln(["cache", "keygen", "--out", join(tmp, "key1")]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /^kiln: E_ARGUMENT: --out: .* already holds a kiln-cache key pair/);

  const remote = remoteOf("fleet-signed");
  const published = replica(remote, "js", { KILN_CACHE_SIGN_KEY: k1.key });
  assert.deepEqual(published.outcomes, ["compiled"]);
  const [entryPath] = files(join(tmp, "fleet-signed", "ac"));
  const entry = JSON.parse(readFileSync(entryPath!, "utf8")) as { signature?: string; signer?: string };
  assert.match(entry.signature ?? "", /^[A-Za-z0-9+/]+=*$/);

  const trusted = replica(remote, "js", { KILN_CACHE_TRUSTED_KEYS: `${k2.pub},${k1.pub}` });
  assert.deepEqual(trusted.outcomes, ["remote"]);
  assert.deepEqual(trusted.ids, greedy);
  const other = replica(remote, "js", { KILN_CACHE_TRUSTED_KEYS: k2.pub });
  assert.deepEqual(other.outcomes, ["compiled"]);
  assert.deepEqual(other.ids, greedy);
  assert.ok(other.log.some((l) => /is refused: its signature \(signer [0-9a-f]{16}\) is not by a key in KILN_CACHE_TRUSTED_KEYS/.test(l)), other.log.join("\n"));
  assert.ok(other.log.some((l) => /not publishing model to the fleet cache: KILN_CACHE_TRUSTED_KEYS is set and KILN_CACHE_SIGN_KEY is not/.test(l)), other.log.join("\n"));

  writeFileSync(entryPath!, JSON.stringify({ ...JSON.parse(readFileSync(entryPath!, "utf8")), producer: "someone else" }));
  const altered = replica(remote, "js", { KILN_CACHE_TRUSTED_KEYS: k1.pub });
  assert.deepEqual(altered.outcomes, ["compiled"]);
  assert.ok(altered.log.some((l) => /is refused: .*altered after signing/.test(l)), altered.log.join("\n"));
  const unsignedRemote = remoteOf("fleet-unsigned");
  replica(unsignedRemote);
  const unsigned = replica(unsignedRemote, "js", { KILN_CACHE_TRUSTED_KEYS: k1.pub });
  assert.deepEqual(unsigned.outcomes, ["compiled"]);
  assert.ok(unsigned.log.some((l) => /is refused: it is not signed/.test(l)), unsigned.log.join("\n"));

  for (const [env, want] of [
    [{ KILN_CACHE_SIGN_KEY: join(tmp, "nope.key") }, /KILN_CACHE_SIGN_KEY: cannot read .*nope\.key \(ENOENT\)/],
    [{ KILN_CACHE_TRUSTED_KEYS: k1.key }, /KILN_CACHE_TRUSTED_KEYS: .*kiln-cache\.key is a private key; replicas get only the public one/],
    [{ KILN_CACHE_TRUSTED_KEYS: entryPath! }, /KILN_CACHE_TRUSTED_KEYS: .* is not a PEM public key/],
  ] as const) {
    const r = kiln(["generate", "--model", TINY_QWEN3_DIR, "--prompt-ids", "1,2", "--max-tokens", "2", "--backend", "js"], { KILN_CACHE_REMOTE: remote, ...env });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, want);
  }
});

test("four replicas at once on an empty fleet folder: one compiles and publishes, three load what it published", async () => {
  const runs = await replicasAtOnce(4, tmp, remoteOf("fleet-at-once"));
  for (const r of runs) assert.deepEqual(r.ids, greedy);
  const outcomes = runs.map((r) => r.outcomes[0]).sort();
  assert.deepEqual(outcomes, ["compiled", "remote", "remote", "remote"], runs.map((r) => r.log.join(" | ")).join("\n"));
  assert.equal(files(join(tmp, "fleet-at-once", "ac")).length, 1);
  assert.deepEqual(files(join(tmp, "fleet-at-once", "leases")), [], "the lease is given back");
});

test("kiln cache push publishes what a machine compiled before the fleet existed; without a writable store it is a typed error", () => {
  const local = join(tmp, "pre-fleet");
  assert.deepEqual(runReplica(local, "").outcomes, ["compiled"]);
  const remote = remoteOf("fleet-pushed");
  const push = kiln(["cache", "push"], { KILN_CACHE_DIR: local, KILN_CACHE_REMOTE: remote });
  assert.equal(push.status, 0, push.stderr);
  assert.match(push.stdout, /pushed [0-9a-f]{12} {2}model/);
  assert.match(push.stdout, /pushed 1 bundle to /);
  const stats = kiln(["cache", "stats"], { KILN_CACHE_DIR: local, KILN_CACHE_REMOTE: remote });
  assert.equal(stats.status, 0, stats.stderr);
  assert.match(stats.stdout, /^local .*: 1 bundle \(/m);
  assert.match(stats.stdout, /fleet-pushed: 1 entries \(0 signed, 0 unreadable, 0 without their blob\), 1 blobs \([\d.]+ MiB\); their compiles took [\d.]+ s/);
  const pulled = replica(remote);
  assert.deepEqual(pulled.outcomes, ["remote"]);
  assert.deepEqual(pulled.ids, greedy);
  for (const env of [{ KILN_CACHE_REMOTE: "" }, { KILN_CACHE_REMOTE: `${remote}?readonly` }]) {
    const r = kiln(["cache", "push"], { KILN_CACHE_DIR: local, ...env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^kiln: E_ARGUMENT: kiln cache push: KILN_CACHE_REMOTE names no writable store/);
  }
});

test("kiln cache export and import round-trip bundles; an archive's links, stray paths and damaged bundles are skipped", () => {
  const source = join(tmp, "export-src");
  assert.deepEqual(runReplica(source, "").outcomes, ["compiled"]);
  const archive = join(tmp, "bundles.tar");
  const exp = kiln(["cache", "export", "-o", archive], { KILN_CACHE_DIR: source });
  assert.equal(exp.status, 0, exp.stderr);
  assert.match(exp.stdout, /exported 1 bundle to /);
  const target = join(tmp, "import-dst");
  const imp = kiln(["cache", "import", archive], { KILN_CACHE_DIR: target });
  assert.equal(imp.status, 0, imp.stderr);
  assert.match(imp.stdout, /imported 1 bundle into /);
  const loaded = runReplica(target, "");
  assert.deepEqual(loaded.outcomes, ["loaded"]);
  assert.deepEqual(loaded.ids, greedy);

  // A hostile archive: a link where a bundle goes, a file outside aot/, a damaged bundle.
  const staging = join(tmp, "hostile");
  const [bundle] = readdirSync(join(source, "aot"), { recursive: true }).map(String).filter((f) => f.endsWith("model.kiln"));
  const damaged = readFileSync(join(source, "aot", bundle!));
  damaged[damaged.length >> 1] ^= 0xff;
  const put = (path: string, bytes: Uint8Array | string) => {
    mkdirSync(dirname(join(staging, path)), { recursive: true });
    writeFileSync(join(staging, path), bytes);
  };
  put(`aot/${bundle}`, damaged);
  put("evil/model.kiln", "x");
  mkdirSync(join(staging, "aot", "0".repeat(32), "rank0_1", "model"), { recursive: true });
  symlinkSync("/etc/passwd", join(staging, "aot", "0".repeat(32), "rank0_1", "model", "model.kiln"));
  const hostile = join(tmp, "hostile.tar");
  tar.c({ file: hostile, cwd: staging, sync: true }, ["aot", "evil"]);
  const bad = kiln(["cache", "import", hostile], { KILN_CACHE_DIR: join(tmp, "import-hostile") });
  assert.equal(bad.status, 1, bad.stdout);
  assert.match(bad.stdout, /skip aot\/0{32}\/rank0_1\/model\/model\.kiln: a SymbolicLink, not a file/);
  assert.match(bad.stdout, /skip evil\/model\.kiln: not a bundle's path/);
  assert.match(bad.stdout, /skip aot\/[0-9a-f]{32}\/rank0_1\/model\/model\.kiln: .*(checksum|corrupt|damaged)/i);
  assert.match(bad.stdout, /imported 0 bundles .*; skipped 3/);
  assert.equal(existsSync(join(tmp, "import-hostile", "aot")), false, "nothing installed");
  const notTar = kiln(["cache", "import", join(tmp, "nope.tar")], { KILN_CACHE_DIR: target });
  assert.equal(notTar.status, 1);
  assert.match(notTar.stderr, /^kiln: E_ARGUMENT: kiln cache import: .*nope\.tar is not a readable tar archive \(ENOENT\)/);
});
