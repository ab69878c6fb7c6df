// A fleet-cache store in Redis (KILN_CACHE_REMOTE=redis://host:port[/db]): keys `<prefix>:cas:<sha256>` (bundle bytes)
// and `<prefix>:ac:<name>` (the entry's JSON). The cache path is synchronous, so each call is handed to a worker thread
// that owns the client (redis-remote-worker.ts) and waited for with Atomics.wait, for at most the call's time: an
// unreachable or silent server costs a start that time once, then the store is marked failed (remote-store.ts).
import { MessageChannel, type MessagePort, Worker, receiveMessageOnPort } from "node:worker_threads";
import { type RemoteEntry, type RemoteStore, checkDigest, checkName, parseEntry } from "./remote-store.js";

/** The first call also starts the worker and connects: it may take this long (the connect itself: CONNECT_TIMEOUT_MS). */
const FIRST_CALL_MS = 2000;
const CONNECT_TIMEOUT_MS = 250;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

type Answer = { id: number } & ({ ok: true; value: Uint8Array | null | boolean | number } | { ok: false; error: string });

export class RedisRemote implements RemoteStore {
  readonly #serverUrl: string;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #port: MessagePort | undefined;
  readonly #flag = new Int32Array(new SharedArrayBuffer(4));
  #calls = 0;
  #lastId = 0;

  constructor(readonly url: string, serverUrl: string, readonly readonly: boolean, prefix = "kiln", timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#serverUrl = serverUrl;
    this.#prefix = prefix;
    this.#timeoutMs = timeoutMs;
  }

  getEntry(name: string): RemoteEntry | undefined {
    const v = this.#call("get", `${this.#prefix}:ac:${checkName(name)}`);
    return v instanceof Uint8Array ? parseEntry(Buffer.from(v).toString("utf8"), `${this.url} ac:${name}`) : undefined;
  }

  getBlob(digest: string): Uint8Array | undefined {
    const v = this.#call("get", `${this.#prefix}:cas:${checkDigest(digest)}`);
    return v instanceof Uint8Array ? v : undefined;
  }

  putBlob(digest: string, bytes: Uint8Array): void {
    this.#call("setnx", `${this.#prefix}:cas:${checkDigest(digest)}`, bytes);
  }

  putEntry(name: string, entry: RemoteEntry): void {
    this.#call("set", `${this.#prefix}:ac:${checkName(name)}`, Buffer.from(JSON.stringify(entry)));
  }

  tryLease(name: string, owner: string, ttlMs: number): boolean {
    return this.#call("lease", `${this.#prefix}:lease:${checkName(name)}`, Buffer.from(owner), ttlMs) === true;
  }

  releaseLease(name: string, owner: string): void {
    this.#call("release", `${this.#prefix}:lease:${checkName(name)}`, Buffer.from(owner));
  }

  list(): { entries: { name: string; entry: RemoteEntry | undefined }[]; blobs: { digest: string; size: number }[] } {
    const keys = (kind: string) => JSON.parse(Buffer.from(this.#call("scan", `${this.#prefix}:${kind}:*`) as Uint8Array).toString("utf8")) as string[];
    const ac = `${this.#prefix}:ac:`;
    const entries = keys("ac").map((key) => {
      const name = key.slice(ac.length);
      const v = this.#call("get", key);
      let entry: RemoteEntry | undefined;
      try {
        entry = v instanceof Uint8Array ? parseEntry(Buffer.from(v).toString("utf8"), key) : undefined;
      } catch {
        entry = undefined; // listed as unreadable
      }
      return { name, entry };
    });
    const cas = `${this.#prefix}:cas:`;
    const blobs = keys("cas").map((key) => ({ digest: key.slice(cas.length), size: Number(this.#call("strlen", key)) }));
    return { entries, blobs };
  }

  /** Starts the worker and its connection now, without waiting, so the first real call finds them ready. */
  prewarm(): void {
    if (this.#port) return;
    this.#start().postMessage({ id: ++this.#lastId, op: "ping", key: "" });
  }

  /** One request to the worker, waited for synchronously; throws on an error or when its time is up. */
  #call(op: "get" | "set" | "setnx" | "lease" | "release" | "scan" | "strlen", key: string, value?: Uint8Array, ttlMs?: number): Uint8Array | null | boolean | number {
    const port = this.#port ?? this.#start();
    const limit = this.#calls++ === 0 ? Math.min(FIRST_CALL_MS, this.#timeoutMs) : this.#timeoutMs;
    const deadline = performance.now() + limit;
    let seen = Atomics.load(this.#flag, 0);
    const id = ++this.#lastId;
    port.postMessage({ id, op, key, value, ttlMs });
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got) {
        const answer = got.message as Answer;
        if (answer.id !== id) continue; // a prewarm's answer, or one that came after its call gave up
        if (!answer.ok) throw new Error(answer.error);
        return answer.value;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no answer within ${limit} ms`);
      Atomics.wait(this.#flag, 0, seen, left);
      seen = Atomics.load(this.#flag, 0);
    }
  }

  #start(): MessagePort {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL("./redis-remote-worker.js", import.meta.url), {
      workerData: { url: this.#serverUrl, connectTimeoutMs: CONNECT_TIMEOUT_MS, port: port2, flag: this.#flag },
      transferList: [port2],
    });
    worker.unref(); // never keeps the process alive
    worker.on("error", () => {}); // a dead worker shows as calls that time out
    port1.unref();
    this.#port = port1;
    return port1;
  }
}
