// Shared by the server tests: a tiny Qwen3 folder with the real tokenizer, a private cache, servers started
// in-process on 127.0.0.1:0, and raw HTTP helpers (SSE parsing, JSON posts, metric values).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeModel } from "../../src/models/index.js";
import { KilnServer, type ServeOptions } from "../../src/server/index.js";
import type { EngineSpec } from "../../src/server/index.js";

/** A temp folder with a tiny model (real Qwen3 tokenizer) and a cache; KILN_CACHE_DIR points at the cache. */
export function tinyModelDir(): { dir: string; model: string; cache: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "kiln-serve-"));
  const model = join(dir, "model");
  makeModel({ preset: "tiny", out: model, dtype: "f32", seed: 1 });
  const cache = join(dir, "cache");
  process.env.KILN_CACHE_DIR = cache;
  return { dir, model, cache, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function engineSpec(model: string, extra: Partial<EngineSpec> = {}): EngineSpec {
  return { model, backend: "js", maxNumSeqs: 16, maxNumBatchedTokens: 512, enablePrefixCaching: true, warmup: true, ...extra };
}

export async function startServer(options: Partial<ServeOptions> & { engine: EngineSpec }): Promise<KilnServer> {
  return KilnServer.start({ host: "127.0.0.1", port: 0, maxQueuedRequests: 256, ...options });
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const text = await r.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the raw text
  }
  return { status: r.status, headers: r.headers, body: parsed };
}

/** The events of a whole SSE body: each `data:` payload (JSON parsed, or the literal "[DONE]"), and comments. */
export function sseEvents(text: string): { data: any[]; comments: string[]; raw: string[] } {
  const raw = text.split("\n\n").filter((e) => e.length > 0);
  const data: any[] = [];
  const comments: string[] = [];
  for (const e of raw) {
    if (e.startsWith(":")) comments.push(e);
    else if (e.startsWith("data: ")) data.push(e === "data: [DONE]" ? "[DONE]" : JSON.parse(e.slice(6)));
    else throw new Error(`not an SSE event: ${JSON.stringify(e)}`);
  }
  return { data, comments, raw };
}

export async function streamRaw(url: string, body: unknown): Promise<ReturnType<typeof sseEvents> & { status: number; contentType: string | null }> {
  const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...(body as object), stream: true }) });
  const text = await r.text();
  return { status: r.status, contentType: r.headers.get("content-type"), ...sseEvents(text) };
}

/** One sample's value from Prometheus text (the first series of `name` whose labels include `labels`). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    const m = /^([^{\s]+)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return undefined;
}

export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
