// The engine thread and the HTTP side around it, with a fake engine (test/server/fake-engine.ts) whose loading and
// steps take as long as a test needs: /health reports each load phase then 200; /health and /metrics answer while
// a step blocks the engine thread; SSE keep-alive comments fill the silence; a failed load is reported, not hung.
import assert from "node:assert/strict";
import { join } from "node:path";
import { afterEach, test } from "node:test";
import { EngineFailedError, type KilnServer } from "../../src/server/index.js";
import { projectRoot } from "../helpers/root.js";
import { fakeToken } from "./fake-engine.js";
import { engineSpec, postJson, startServer, streamRaw, until } from "./serve-helpers.js";

// A model folder without a tokenizer: prompts are token ids, outputs token ids (return_token_ids by default).
const MODEL = join(projectRoot(), "test", "fixtures", "tiny-qwen3");
const engineModule = new URL("./fake-engine.js", import.meta.url).href;
let server: KilnServer | undefined;

async function start(env: Record<string, string>, extra: Parameters<typeof startServer>[0] extends infer O ? Partial<O> : never = {}) {
  for (const [k, v] of Object.entries(env)) process.env[k] = v; // the worker copies process.env when it starts
  try {
    server = await startServer({ engine: engineSpec(MODEL), engineModule, ...extra });
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
  }
  return server;
}

afterEach(async () => {
  await server?.close(200);
  server = undefined;
});

test("the port opens first: /health is 503 with each load phase and the time so far, then 200", async () => {
  const s = await start({ FAKE_LOAD_MS: "250" });
  const seen: string[] = [];
  const body = await until("ready", async () => {
    const r = await fetch(`${s.url}/health`);
    const b = (await r.json()) as { status: string; phase?: string; elapsed_s?: number };
    if (r.status === 503) {
      assert.equal(b.status, "loading");
      assert.equal(typeof b.elapsed_s, "number");
      if (seen.at(-1) !== b.phase) seen.push(b.phase!);
      return undefined;
    }
    assert.equal(r.status, 200);
    return b;
  });
  assert.deepEqual(body, { status: "ok" });
  assert.deepEqual(seen, ["loading_weights", "loading_bundle", "warmup"]);
  // Generation while loading is a 503 with Retry-After (checked on a fresh server below); models list works now.
  const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: { id: string; max_model_len: number }[] };
  assert.equal(models.data[0]!.id, MODEL);
  assert.equal(models.data[0]!.max_model_len, 256);
});

test("generation while loading: 503 with Retry-After", async () => {
  const s = await start({ FAKE_LOAD_MS: "400" });
  const r = await postJson(`${s.url}/v1/completions`, { prompt: [1, 2, 3] });
  assert.equal(r.status, 503);
  assert.equal(r.headers.get("retry-after"), "1");
  assert.equal(r.body.error.type, "unavailable_error");
});

test("/health and /metrics answer while the engine thread is busy in a long step; keep-alive comments fill the silence", async () => {
  const s = await start({ FAKE_STEP_MS: "600" }, { keepAliveMs: 100 });
  await s.ready();
  const stream = streamRaw(`${s.url}/v1/completions`, { prompt: [5, 6, 7], max_tokens: 3, ignore_eos: true, temperature: 0 });
  await new Promise((r) => setTimeout(r, 100)); // the first step is running now
  for (const path of ["/health", "/metrics"]) {
    const t0 = performance.now();
    const r = await fetch(`${s.url}${path}`);
    await r.text();
    assert.equal(r.status, 200);
    // A step blocks the engine thread for 600 ms; HTTP answers from the main thread regardless.
    assert.ok(performance.now() - t0 < 300, `${path} took ${(performance.now() - t0).toFixed(0)} ms`);
  }
  const events = await stream;
  assert.ok(events.comments.includes(": keep-alive"), "a keep-alive comment during the silent step");
  const tokens = events.data.filter((d) => d !== "[DONE]").flatMap((d) => d.choices[0]?.token_ids ?? []);
  assert.deepEqual(tokens, [0, 1, 2].map((i) => fakeToken([5, 6, 7], i, 0)));
});

test("a model folder without a tokenizer: token ids in, token ids out; text prompts and chat refused with 400", async () => {
  const s = await start({});
  await s.ready();
  const r = await postJson(`${s.url}/v1/completions`, { prompt: [9, 8, 7], max_tokens: 4, ignore_eos: true, temperature: 0 });
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.choices[0].token_ids, [0, 1, 2, 3].map((i) => fakeToken([9, 8, 7], i, 0)));
  assert.equal(r.body.choices[0].text, "");
  const text = await postJson(`${s.url}/v1/completions`, { prompt: "hello" });
  assert.equal(text.status, 400);
  assert.equal(text.body.error.param, "prompt");
  const chat = await postJson(`${s.url}/v1/chat/completions`, { messages: [{ role: "user", content: "hi" }] });
  assert.equal(chat.status, 400);
  assert.equal(chat.body.error.param, "messages");
  const big = await postJson(`${s.url}/v1/completions`, { prompt: [151936] });
  assert.equal(big.body.error.param, "prompt");
});

test("admission: past --max-queued-requests, 503 with Retry-After before any tokenizing; the queue frees as requests end", async () => {
  const s = await start({ FAKE_STEP_MS: "50" }, { maxQueuedRequests: 2 });
  await s.ready();
  const long = (n: number) => postJson(`${s.url}/v1/completions`, { prompt: [1, 2], max_tokens: 6, ignore_eos: true, n });
  const first = long(2);
  await until("two sequences in flight", async () => (s.host.liveSequences === 2 ? true : undefined));
  const refused = await long(1);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("retry-after"), "1");
  assert.equal(refused.body.error.type, "server_overloaded");
  assert.equal((await first).status, 200);
  assert.equal((await long(1)).status, 200);
});

test("a failed load: ready() rejects with the error's code, /health says failed (one line), generation is 503", async () => {
  const s = await start({ FAKE_LOAD_FAIL: "no weights here" });
  await assert.rejects(s.ready(), (e: unknown) => e instanceof EngineFailedError && e.code === "E_INTERNAL" && e.message === "no weights here");
  const h = await fetch(`${s.url}/health`);
  assert.equal(h.status, 503);
  assert.deepEqual(await h.json(), { status: "failed", error: { code: "E_INTERNAL", message: "no weights here" } });
  const r = await postJson(`${s.url}/v1/completions`, { prompt: [1] });
  assert.equal(r.status, 503);
});
