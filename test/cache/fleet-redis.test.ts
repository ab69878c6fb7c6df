// The fleet cache in Redis (KILN_CACHE_REMOTE=redis://…), against a real redis-server started on a free loopback port:
// `kiln generate` replicas with empty local caches load what another published; a damaged value is a logged miss and
// a local compile; a stopped server and a black hole (accepts, never answers) cost a bounded wait, never a failed run.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { freePort } from "../helpers/free-port.js";
import { KILN_CLI } from "../helpers/kiln-cli.js";
import { FLEET_GREEDY as greedy, replica as runReplica, replicasAtOnce } from "../helpers/fleet-replica.js";

const hasRedis = spawnSync("redis-server", ["--version"]).status === 0;
const skip = hasRedis ? false : "redis-server is not installed (.ci/run installs Debian's redis-server)";
const tmp = mkdtempSync(join(tmpdir(), "kiln-fleet-redis-"));

/** Waits until a server on `port` answers PING (redis-server takes a moment to listen). */
async function untilPong(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const pong = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.on("connect", () => s.write("PING\r\n"));
      s.on("data", (d) => {
        resolve(d.toString().startsWith("+PONG"));
        s.destroy();
      });
      s.on("error", () => resolve(false));
    });
    if (pong) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer`);
}

let server: ChildProcess | undefined;
let url = "";
let client: Redis | undefined;

before(async () => {
  if (!hasRedis) return;
  const port = await freePort();
  server = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
  url = `redis://127.0.0.1:${port}`;
  await untilPong(port);
  client = new Redis(url);
});

after(async () => {
  client?.disconnect();
  server?.kill();
  rmSync(tmp, { recursive: true, force: true });
});

let replicas = 0;
const replica = (remote: string) => runReplica(join(tmp, `local-${replicas++}`), remote);

test("Redis: a replica with an empty local cache loads what another published; a damaged value is a miss and a compile", { skip }, async () => {
  const remote = `${url}?prefix=t1`;
  const first = replica(remote);
  assert.deepEqual(first.outcomes, ["compiled"]);
  const keys = (await client!.keys("t1:*")).sort();
  assert.equal(keys.length, 2, keys.join());
  assert.match(keys[0]!, /^t1:ac:/);
  assert.match(keys[1]!, /^t1:cas:[0-9a-f]{64}$/);

  const second = replica(remote);
  assert.deepEqual(second.ids, greedy);
  assert.deepEqual(second.outcomes, ["remote"]);
  assert.equal(second.traces, 0);

  const stats = spawnSync(process.execPath, [...process.execArgv, KILN_CLI, "cache", "stats"], { env: { ...process.env, KILN_CACHE_DIR: join(tmp, "stats"), KILN_CACHE_REMOTE: remote }, encoding: "utf8" });
  assert.equal(stats.status, 0, stats.stderr);
  assert.match(stats.stdout, /prefix=t1: 1 entries \(0 signed, 0 unreadable, 0 without their blob\), 1 blobs/);

  const blob = (await client!.getBuffer(keys[1]!))!;
  await client!.setrange(keys[1]!, blob.length >> 1, "XXXX"); // bytes overwritten in the middle
  const damaged = replica(remote);
  assert.deepEqual(damaged.ids, greedy);
  assert.deepEqual(damaged.outcomes, ["compiled"]);
  assert.ok(damaged.log.some((l) => /does not match its recorded sha256/.test(l)), damaged.log.join("\n"));
  await client!.set(keys[0]!, "not json");
  const planted = replica(remote);
  assert.deepEqual(planted.outcomes, ["compiled"]);
  assert.ok(planted.log.some((l) => /failed \(reading an entry: .*not JSON/.test(l)), planted.log.join("\n"));
});

test("Redis down or silent: the run completes with the local cache, one warning, a bounded wait", { skip }, async (t) => {
  const closed = `redis://127.0.0.1:${await freePort()}`;
  const silent: Server = createServer(() => {}); // accepts connections, never answers
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  try {
    const hole = `redis://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const local = replica("");
    for (const [what, remote] of [["stopped", closed], ["black hole", hole]] as const) {
      const r = replica(remote);
      assert.deepEqual(r.ids, greedy, what);
      assert.deepEqual(r.outcomes, ["compiled"], what);
      assert.equal(r.log.filter((l) => l.includes("fleet cache")).length, 1, `${what}: ${r.log.join("\n")}`);
      t.diagnostic(`${what} remote: ${Math.round(r.ms - local.ms)} ms over a local cold start (${Math.round(local.ms)} ms)`);
    }
  } finally {
    silent.close();
  }
});

test("Redis: four replicas at once on an empty store: one compiles and publishes, three load what it published", { skip }, async () => {
  const runs = await replicasAtOnce(4, tmp, `${url}?prefix=at-once`);
  for (const r of runs) assert.deepEqual(r.ids, greedy);
  assert.deepEqual(runs.map((r) => r.outcomes[0]).sort(), ["compiled", "remote", "remote", "remote"], runs.map((r) => r.log.join(" | ")).join("\n"));
  assert.equal((await client!.keys("at-once:ac:*")).length, 1);
  assert.deepEqual(await client!.keys("at-once:lease:*"), [], "the lease is given back");
});
