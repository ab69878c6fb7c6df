// The Redis client of the fleet cache, in a worker thread: the cache path is synchronous (a compile or a load happens
// inside a synchronous call), so RedisRemote posts one request at a time and blocks on a shared flag until this worker
// answers or the request's time is up. Each answer goes on the port first, then the flag is raised.
import { type MessagePort, workerData } from "node:worker_threads";
import { Redis } from "ioredis";

interface Request {
  readonly id: number;
  readonly op: "ping" | "get" | "set" | "setnx" | "lease" | "release" | "scan" | "strlen";
  readonly key: string;
  readonly value?: Uint8Array;
  readonly ttlMs?: number;
}

/** Deletes a lease only when it still names its owner (one step on the server). */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

const { url, connectTimeoutMs, port, flag } = workerData as { url: string; connectTimeoutMs: number; port: MessagePort; flag: Int32Array };

// No reconnect loop, no offline queue: a request either reaches the server now or fails now.
const client = new Redis(url, {
  connectTimeout: connectTimeoutMs,
  lazyConnect: true,
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
});
client.on("error", () => {}); // each failed request reports its own error
let connected: Promise<void> | undefined;

async function run(req: Request): Promise<Uint8Array | null | boolean | number> {
  connected ??= client.connect();
  await connected;
  if (req.op === "ping") return true;
  if (req.op === "get") return client.getBuffer(req.key);
  if (req.op === "setnx") return (await client.set(req.key, Buffer.from(req.value!), "NX")) === "OK";
  if (req.op === "lease") return (await client.set(req.key, Buffer.from(req.value!), "PX", req.ttlMs!, "NX")) === "OK";
  if (req.op === "release") return (await client.eval(RELEASE, 1, req.key, Buffer.from(req.value!))) === 1;
  if (req.op === "strlen") return client.strlen(req.key);
  if (req.op === "scan") {
    // The keys matching a pattern (here `key`), as a JSON list: SCAN, never KEYS, so a large store is not blocked.
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", req.key, "COUNT", 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== "0");
    return Buffer.from(JSON.stringify(found));
  }
  await client.set(req.key, Buffer.from(req.value!));
  return true;
}

port.on("message", (req: Request) => {
  run(req).then(
    (value) => answer({ id: req.id, ok: true, value }),
    (e: unknown) => answer({ id: req.id, ok: false, error: (e as Error)?.message ?? String(e) }),
  );
});

function answer(msg: unknown): void {
  port.postMessage(msg);
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
}
