// kiln serve over real HTTP with the official `openai` client and raw fetch: a tiny Qwen3 (real tokenizer, random
// weights) on the real engine (js backend), with a small token budget so every prompt is prefilled in chunks.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import type { KilnServer } from "../../src/server/index.js";
import { tokenBytes } from "../../src/server/token-bytes.js";
import { engineSpec, metricValue, postJson, sseEvents, startServer, streamRaw, tinyModelDir, until } from "./serve-helpers.js";

const fixture = tinyModelDir();
const NAME = "tiny";
let server: KilnServer;
let client: OpenAI;
let url: string;

before(async () => {
  server = await startServer({ engine: engineSpec(fixture.model, { maxNumBatchedTokens: 16, maxNumSeqs: 8 }), servedModelName: NAME });
  await server.ready();
  url = server.url;
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
});
after(async () => {
  await server?.close(1000);
  fixture.cleanup();
});

const withoutCached = (u: { prompt_tokens_details: unknown }) => ({ ...u, prompt_tokens_details: undefined });
const messages = [{ role: "user" as const, content: "Write a haiku about kilns." }];
const greedy = { model: NAME, temperature: 0, max_completion_tokens: 12 };

test("models.list names the served model", async () => {
  const list = await client.models.list();
  assert.deepEqual(list.data.map((m) => m.id), [NAME]);
});

test("chat: the streamed deltas concatenate to the non-streamed text; role first, finish_reason last, no usage unless asked", async () => {
  const whole = await client.chat.completions.create({ ...greedy, messages });
  const text = whole.choices[0]!.message.content!;
  assert.equal(whole.choices[0]!.finish_reason, "length");
  assert.equal(whole.usage!.completion_tokens, 12);
  assert.ok(text.length > 0);
  const stream = await client.chat.completions.create({ ...greedy, messages, stream: true });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks[0]!.choices[0]!.delta.role, "assistant");
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), text);
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, "length");
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0]!.finish_reason === null));
  assert.ok(chunks.every((c) => !("usage" in c) || c.usage === null), "no usage without include_usage");
});

test("completions: text and token-id prompts, plain and streamed, agree", async () => {
  const ids = (await postJson(`${url}/tokenize`, { prompt: "The capital of France is" })).body.tokens as number[];
  const a = await client.completions.create({ model: NAME, prompt: "The capital of France is", max_tokens: 10, temperature: 0 });
  const b = await client.completions.create({ model: NAME, prompt: ids, max_tokens: 10, temperature: 0 });
  assert.equal(a.choices[0]!.text, b.choices[0]!.text);
  assert.equal(a.usage!.prompt_tokens, ids.length);
  const stream = await client.completions.create({ model: NAME, prompt: ids, max_tokens: 10, temperature: 0, stream: true });
  let text = "";
  for await (const c of stream) text += c.choices[0]?.text ?? "";
  assert.equal(text, a.choices[0]!.text);
  const detok = await postJson(`${url}/detokenize`, { tokens: ids });
  assert.equal(detok.body.prompt, "The capital of France is");
});

test("include_usage: one usage chunk with choices [] just before [DONE], usage null elsewhere (vLLM #7262); stream_options {} sends none (#36379)", async () => {
  const body = { model: NAME, messages, temperature: 0, max_completion_tokens: 6 };
  const withUsage = await streamRaw(`${url}/v1/chat/completions`, { ...body, stream_options: { include_usage: true } });
  assert.equal(withUsage.status, 200);
  assert.match(withUsage.contentType!, /^text\/event-stream/);
  assert.equal(withUsage.data.at(-1), "[DONE]");
  const usageChunks = withUsage.data.filter((d) => d !== "[DONE]" && d.usage);
  assert.equal(usageChunks.length, 1);
  assert.equal(withUsage.data.at(-2), usageChunks[0]);
  assert.deepEqual(usageChunks[0].choices, []);
  assert.ok(withUsage.data.slice(0, -2).every((d) => d.usage === null && d.choices.length === 1));
  const whole = await postJson(`${url}/v1/chat/completions`, body);
  assert.deepEqual(withoutCached(usageChunks[0].usage), withoutCached(whole.body.usage));
  for (const options of [{}, { include_usage: false }]) {
    const none = await streamRaw(`${url}/v1/chat/completions`, { ...body, stream_options: options });
    assert.equal(none.data.at(-1), "[DONE]");
    assert.ok(none.data.slice(0, -1).every((d) => !("usage" in d) && d.choices.length === 1), JSON.stringify(options));
  }
});

test("n = 3: completion_tokens sums over the choices, streamed and not (vLLM #9357); seeds seed+i; usage right with chunked prefill (#9028, #8625)", async () => {
  const prompt = "word ".repeat(60); // 60+ tokens over a 16-token step budget: several prefill chunks
  const body = { model: NAME, prompt, max_tokens: 5, n: 3, temperature: 1, seed: 11, ignore_eos: true };
  const whole = await postJson(`${url}/v1/completions`, body);
  assert.equal(whole.status, 200);
  assert.equal(whole.body.choices.length, 3);
  assert.equal(whole.body.usage.completion_tokens, 15);
  assert.ok(whole.body.usage.prompt_tokens >= 60);
  const streamed = await streamRaw(`${url}/v1/completions`, { ...body, stream_options: { include_usage: true } });
  const usage = streamed.data.filter((d) => d !== "[DONE]" && d.usage).map((d) => d.usage);
  assert.equal(usage.length, 1);
  // The second run finds the prompt's full blocks in the prefix cache; the counts are the same.
  assert.ok(usage[0].prompt_tokens_details.cached_tokens >= 48, JSON.stringify(usage[0]));
  assert.deepEqual(withoutCached(usage[0]), withoutCached(whole.body.usage));
  for (let i = 0; i < 3; i++) {
    const text = streamed.data.filter((d) => d !== "[DONE]" && d.choices[0]?.index === i).map((d) => d.choices[0].text).join("");
    assert.equal(text, whole.body.choices[i].text);
  }
  // Choice i is what a request with seed 11 + i and n = 1 gives.
  const second = await postJson(`${url}/v1/completions`, { ...body, n: 1, seed: 12 });
  assert.equal(second.body.choices[0].text, whole.body.choices[1].text);
});

test("continuous_usage_stats puts the cumulative usage on every chunk", async () => {
  const s = await streamRaw(`${url}/v1/completions`, { model: NAME, prompt: "Hi", max_tokens: 4, temperature: 0, ignore_eos: true, stream_options: { include_usage: true, continuous_usage_stats: true } });
  const counts = s.data.filter((d) => d !== "[DONE]" && d.choices.length).map((d) => d.usage.completion_tokens);
  assert.deepEqual(counts.slice(0, 4), [1, 2, 3, 4]);
});

test("stop strings: the text is cut before the stop string, streamed and not, finish_reason stop", async () => {
  const full = (await postJson(`${url}/v1/completions`, { model: NAME, prompt: "Once upon a time", max_tokens: 24, temperature: 0, ignore_eos: true })).body.choices[0].text as string;
  const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 3);
  const cut = full.slice(0, full.indexOf(stop));
  const body = { model: NAME, prompt: "Once upon a time", max_tokens: 24, temperature: 0, ignore_eos: true, stop: [stop, "\u0000never"] };
  const whole = await postJson(`${url}/v1/completions`, body);
  assert.equal(whole.body.choices[0].text, cut);
  assert.equal(whole.body.choices[0].finish_reason, "stop");
  const streamed = await streamRaw(`${url}/v1/completions`, body);
  assert.equal(streamed.data.filter((d) => d !== "[DONE]").map((d) => d.choices[0].text).join(""), cut);
  assert.equal(streamed.data.at(-2).choices[0].finish_reason, "stop");
  await until("the stopped sequence to leave the engine", async () => (server.host.liveSequences === 0 ? true : undefined));
});

test("logprobs bytes are a token's raw bytes, also for a piece of a UTF-8 character", () => {
  // Byte-level spellings map back to bytes: "Ġ" is the space byte, "ð" alone is 0xF0 (the first byte of an emoji).
  assert.deepEqual(tokenBytes("Ġhi", " hi"), [0x20, 0x68, 0x69]);
  assert.deepEqual(tokenBytes("ð", "\uFFFD"), [0xf0]);
  assert.deepEqual(tokenBytes("ðŁİī", "🎉"), [0xf0, 0x9f, 0x8e, 0x89]);
  assert.deepEqual(tokenBytes("▁hi", " hi"), [0x20, 0x68, 0x69], "not byte-level: the text's UTF-8");
  assert.deepEqual(tokenBytes(undefined, "🎉"), [0xf0, 0x9f, 0x8e, 0x89], "no spelling: the text's UTF-8");
});

test("logprobs in OpenAI's shapes: chat content[] with bytes and top_logprobs; completions' legacy lists", async () => {
  const chat = await client.chat.completions.create({ ...greedy, max_completion_tokens: 5, messages, logprobs: true, top_logprobs: 3 });
  const content = chat.choices[0]!.logprobs!.content!;
  assert.equal(content.length, 5);
  for (const c of content) {
    assert.equal(typeof c.token, "string");
    assert.ok(c.logprob <= 0 && c.logprob >= -9999);
    // The token's raw bytes (part of a UTF-8 character shows as U+FFFD in `token`, never in `bytes`).
    if (!c.token.includes("\uFFFD")) assert.deepEqual(c.bytes, [...Buffer.from(c.token, "utf8")]);
    assert.equal(c.top_logprobs.length, 3);
    assert.ok(c.top_logprobs[0]!.logprob >= c.logprob - 1e-9, "greedy: the sampled token is the top one");
  }
  const text = await client.completions.create({ model: NAME, prompt: "Hello", max_tokens: 4, temperature: 0, logprobs: 2 });
  const lp = text.choices[0]!.logprobs!;
  assert.equal(lp.tokens!.length, 4);
  assert.equal(lp.token_logprobs!.length, 4);
  assert.equal(lp.top_logprobs!.length, 4);
  assert.equal(lp.tokens!.join(""), text.choices[0]!.text);
  assert.deepEqual(lp.text_offset, lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join("").length));
});

test("16 concurrent greedy and seeded streams each equal the same request served alone", async () => {
  const prompts = Array.from({ length: 16 }, (_, i) => `Prompt number ${i}: ${"tell me more ".repeat(i % 5)}`);
  const run = async (p: string, i: number) => {
    const s = await client.completions.create({ model: NAME, prompt: p, max_tokens: 2 + (i % 3), temperature: i % 2 ? 0.8 : 0, seed: 100 + i, stream: true });
    let t = "";
    for await (const c of s) t += c.choices[0]?.text ?? "";
    return t;
  };
  const together = await Promise.all(prompts.map(run));
  for (const [i, p] of prompts.entries()) assert.equal(together[i], await run(p, i), p);
});

test("chunked prefill: streams that are decoding keep receiving tokens while a long prompt is prefilled", async () => {
  const arrivals: number[][] = [[], []];
  const streams = [0, 1].map(async (i) => {
    const body = { model: NAME, prompt: `Stream ${i}`, max_tokens: 200, temperature: 0, ignore_eos: true, stream: true as const };
    const s = await client.completions.create(body);
    for await (const c of s) if (c.choices[0]?.text !== undefined) arrivals[i]!.push(performance.now());
  });
  await until("both streams decoding", async () => (arrivals.every((a) => a.length > 2) ? true : undefined));
  const t0 = performance.now();
  const long = await postJson(`${url}/v1/completions`, { model: NAME, prompt: Array.from({ length: 600 }, (_, i) => 1000 + (i % 500)), max_tokens: 1 });
  const t1 = performance.now();
  assert.equal(long.status, 200);
  assert.equal(long.body.usage.prompt_tokens, 600);
  // 600 prompt tokens at 16 a step (minus the two decodes) take ~43 steps; the decodes ride along in every one.
  for (const a of arrivals) {
    const during = a.filter((t) => t > t0 && t < t1).length;
    assert.ok(during >= 10, `only ${during} tokens arrived during the prefill`);
  }
  await Promise.all(streams);
});

test("chat_template_kwargs.enable_thinking reaches the Qwen3 template", async () => {
  const count = async (kwargs: object) => (await postJson(`${url}/tokenize`, { messages, chat_template_kwargs: kwargs })).body.count as number;
  const thinking = await count({});
  const plain = await count({ enable_thinking: false });
  assert.ok(plain > thinking, "enable_thinking: false adds the empty <think></think> block");
  const r = await client.chat.completions.create({ ...greedy, messages, chat_template_kwargs: { enable_thinking: false } } as never) as { usage: { prompt_tokens: number } };
  assert.equal(r.usage.prompt_tokens, plain);
});

test("preemption: a KV pool too small for every admitted sequence still completes each request as served alone", async () => {
  // 6 blocks of 16 tokens; 4 requests that start small (one block) and grow to ~70 tokens (5 blocks) each cannot all
  // hold their blocks at once: running sequences are preempted (recomputed later) as they grow.
  const small = await startServer({ engine: engineSpec(fixture.model, { kvCacheTokens: 96, maxNumBatchedTokens: 64 }), servedModelName: NAME });
  try {
    await small.ready();
    const body = (i: number) => ({ model: NAME, prompt: `Request ${i} again`, max_tokens: 60, temperature: 0, ignore_eos: true });
    const together = await Promise.all([0, 1, 2, 3].map((i) => postJson(`${small.url}/v1/completions`, body(i))));
    const metrics = await (await fetch(`${small.url}/metrics`)).text();
    assert.ok(metricValue(metrics, "kiln:num_preemptions_total")! > 0, "some sequence was preempted");
    for (const [i, r] of together.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.body.choices[0].text, (await postJson(`${small.url}/v1/completions`, body(i))).body.choices[0].text);
    }
  } finally {
    await small.close(500);
  }
});

test("errors have OpenAI's shape: malformed JSON, bad field (param), unknown model (404), context overflow (param), features not built", async () => {
  const bad = await postJson(`${url}/v1/chat/completions`, "{not json");
  assert.equal(bad.status, 400);
  assert.deepEqual(Object.keys(bad.body.error).sort(), ["code", "message", "param", "type"]);
  assert.equal(bad.body.error.type, "invalid_request_error");
  const field = await postJson(`${url}/v1/chat/completions`, { messages, temperature: -1 });
  assert.equal(field.status, 400);
  assert.equal(field.body.error.param, "temperature");
  const missing = await postJson(`${url}/v1/chat/completions`, { model: NAME });
  assert.equal(missing.body.error.param, "messages");
  const model = await postJson(`${url}/v1/chat/completions`, { model: "gpt-9", messages });
  assert.equal(model.status, 404);
  assert.equal(model.body.error.message, "The model `gpt-9` does not exist.");
  const overflow = await postJson(`${url}/v1/chat/completions`, { messages, max_completion_tokens: 5000 });
  assert.equal(overflow.status, 400);
  assert.equal(overflow.body.error.param, "max_completion_tokens");
  assert.match(overflow.body.error.message, /maximum context length is 4096 tokens/);
  const alias = await postJson(`${url}/v1/completions`, { prompt: "x", max_tokens: 5000 });
  assert.equal(alias.body.error.param, "max_tokens");
  const longPrompt = await postJson(`${url}/v1/completions`, { prompt: Array.from({ length: 4100 }, () => 100) });
  assert.equal(longPrompt.status, 400);
  assert.equal(longPrompt.body.error.param, "prompt");
  for (const [extra, param] of [
    [{ response_format: { type: "json_object" } }, "response_format"], [{ tools: [{ type: "function", function: { name: "f" } }] }, "tools"],
    [{ tool_choice: "auto" }, "tool_choice"], [{ presence_penalty: 0.5 }, "presence_penalty"],
  ] as const) {
    const r = await postJson(`${url}/v1/chat/completions`, { messages, ...extra });
    assert.equal(r.status, 400, param);
    assert.equal(r.body.error.param, param);
    assert.match(r.body.error.message, /not supported/);
  }
  for (const [extra, param] of [[{ echo: true }, "echo"], [{ suffix: "x" }, "suffix"], [{ best_of: 3 }, "best_of"]] as const) {
    const r = await postJson(`${url}/v1/completions`, { prompt: "x", ...extra });
    assert.equal(r.body.error.param, param);
  }
  const streamOptions = await postJson(`${url}/v1/chat/completions`, { messages, stream_options: { include_usage: true } });
  assert.equal(streamOptions.body.error.param, "stream_options");
  const route = await fetch(`${url}/v2/nothing`);
  assert.equal(route.status, 404);
  // Unknown fields are accepted (and logged once).
  const unknown = await postJson(`${url}/v1/completions`, { prompt: "x", max_tokens: 1, some_future_field: 1 });
  assert.equal(unknown.status, 200);
});

test("/metrics: vLLM's names under kiln: with model_name; clients that disconnect mid-decode and mid-prefill are aborted, their blocks freed, other streams unchanged", async () => {
  const otherBody = { model: NAME, prompt: "An unrelated stream", max_tokens: 30, temperature: 0, ignore_eos: true };
  const solo = (await postJson(`${url}/v1/completions`, otherBody)).body.choices[0].text;
  const other = streamRaw(`${url}/v1/completions`, otherBody);
  const decoding = new AbortController();
  const r = await fetch(`${url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: decoding.signal,
    body: JSON.stringify({ model: NAME, prompt: "Go on forever", max_tokens: 3000, ignore_eos: true, stream: true, temperature: 0 }),
  });
  const reader = r.body!.getReader();
  await reader.read(); // the first token's chunk: it is decoding now
  const busy = await (await fetch(`${url}/metrics`)).text();
  assert.ok(metricValue(busy, "kiln:num_requests_running", { model_name: NAME })! >= 1);
  decoding.abort();
  // Not streamed, 1,500 prompt tokens at 16 a step: the client leaves while it is still being prefilled.
  const submitted: number[] = [];
  const submit = server.host.submit.bind(server.host);
  server.host.submit = (reqs, sink) => {
    submitted.push(...reqs.map((q) => q.promptIds.length));
    submit(reqs, sink);
  };
  const prefilling = new AbortController();
  const long = fetch(`${url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" }, signal: prefilling.signal,
    body: JSON.stringify({ model: NAME, prompt: Array.from({ length: 1500 }, (_, i) => 2000 + i), max_tokens: 5 }),
  }).catch((e: Error) => e);
  await until("the long prompt to reach the engine", async () => (submitted.includes(1500) ? true : undefined));
  server.host.submit = submit;
  await new Promise((r) => setTimeout(r, 50)); // a few prefill chunks
  prefilling.abort();
  assert.equal(((await long) as Error).name, "AbortError");
  const text = await until("the aborted requests to leave the engine", async () => {
    const t = await (await fetch(`${url}/metrics`)).text();
    return server.host.liveSequences === 0 && metricValue(t, "kiln:num_requests_running") === 0 && metricValue(t, "kiln:kv_cache_usage_perc") === 0 ? t : undefined;
  });
  assert.equal((await other).data.filter((d) => d !== "[DONE]").map((d) => d.choices[0].text).join(""), solo);
  assert.ok(metricValue(text, "kiln:request_success_total", { finished_reason: "abort" })! >= 2);
  for (const name of [
    "kiln:num_requests_waiting", "kiln:prompt_tokens_total", "kiln:generation_tokens_total", "kiln:num_preemptions_total",
    "kiln:prefix_cache_queries_total", "kiln:prefix_cache_hits_total", "kiln:time_to_first_token_seconds_count",
    "kiln:inter_token_latency_seconds_count", "kiln:e2e_request_latency_seconds_count",
  ]) {
    assert.notEqual(metricValue(text, name, { model_name: NAME }), undefined, name);
  }
  assert.ok(metricValue(text, "kiln:generation_tokens_total")! > 0);
  assert.ok(metricValue(text, "kiln:request_success_total", { finished_reason: "length" })! > 0);
});

test("prefix caching: a second request with the same 1,000-token prefix reports cached_tokens >= 992 and prefills only the rest", async () => {
  const prefix = Array.from({ length: 1000 }, (_, i) => 3000 + ((i * 7) % 900));
  const first = await postJson(`${url}/v1/completions`, { model: NAME, prompt: [...prefix, 11, 12, 13], max_tokens: 2, temperature: 0 });
  assert.equal(first.status, 200);
  const before = metricValue(await (await fetch(`${url}/metrics`)).text(), "kiln:prefix_cache_hits_total")!;
  const second = await postJson(`${url}/v1/completions`, { model: NAME, prompt: [...prefix, 21, 22], max_tokens: 2, temperature: 0 });
  const cached = second.body.usage.prompt_tokens_details.cached_tokens as number;
  assert.ok(cached >= 992 && cached <= 1000, `cached_tokens ${cached}`);
  const after = metricValue(await (await fetch(`${url}/metrics`)).text(), "kiln:prefix_cache_hits_total")!;
  assert.equal(after - before, cached);
});
