// The LLM API on a tiny Qwen3 made by make-model (real tokenizer): streamed text adds up to the
// generated text, stop strings cut both the same way, and batched prompts equal prompts alone.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { LLM } from "../../src/engine/index.js";
import { makeModel } from "../../src/models/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-llm-"));
after(() => rmSync(dir, { recursive: true, force: true }));
makeModel({ preset: "tiny", out: join(dir, "model"), dtype: "f32", seed: 1 });
const llm = new LLM({ model: join(dir, "model"), backend: "js" });
const prompt = "Hello 世界 🎉";
const params = { maxTokens: 24, temperature: 0.9, seed: 5 };

async function streamed(p: typeof params & { stop?: string[] }): Promise<{ text: string; final: string | null }> {
  let text = "";
  const it = llm.stream(prompt, p);
  let r = await it.next();
  for (; !r.done; r = await it.next()) text += r.value.text;
  return { text, final: r.value.text };
}

test("stream: the deltas add up to the generated text; a stop string cuts both at the same place", async () => {
  const [whole] = await llm.generate([prompt], params);
  assert.equal(whole!.generatedIds.length, 24);
  assert.deepEqual(await streamed(params), { text: whole!.text, final: whole!.text });
  const stop = whole!.text!.slice(5, 8);
  const [cut] = await llm.generate([prompt], { ...params, stop: [stop] });
  assert.equal(cut!.finishReason, "stop");
  assert.ok(!cut!.text!.includes(stop) && whole!.text!.startsWith(cut!.text!));
  assert.equal((await streamed({ ...params, stop: [stop] })).text, cut!.text);
});

test("generate: a batch of text prompts equals each prompt alone", async () => {
  const prompts = ["Hello", "The capital of France is", prompt];
  const together = await llm.generate(prompts, { maxTokens: 8 });
  for (const [i, p] of prompts.entries()) assert.deepEqual(together[i]!.generatedIds, (await llm.generate([p], { maxTokens: 8 }))[0]!.generatedIds);
});

test("torch_dtype is a hint: weights load as stored (f32 under bfloat16 and the reverse); dtype converts", () => {
  const relabel = (from: string, name: string, torchDtype: string): string => {
    const to = join(dir, name);
    cpSync(from, to, { recursive: true });
    const configPath = join(to, "config.json");
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, "utf8")), torch_dtype: torchDtype }));
    return to;
  };
  const bf16 = join(dir, "model-bf16");
  makeModel({ preset: "tiny", out: bf16, dtype: "bf16", seed: 1 });
  const tokens = (model: string, dtype?: "f32" | "bf16") =>
    new LLM({ model, backend: "js", ...(dtype ? { dtype } : {}) }).generateSync("Hello", { maxTokens: 8 }).generatedIds;
  const f32Tokens = tokens(join(dir, "model"));
  const bf16Tokens = tokens(bf16);
  assert.deepEqual(tokens(relabel(join(dir, "model"), "f32-says-bf16", "bfloat16")), f32Tokens);
  assert.deepEqual(tokens(relabel(bf16, "bf16-says-f32", "float32")), bf16Tokens);
  // Converting f32 weights to bf16 rounds them as make-model's bf16 file did.
  assert.deepEqual(tokens(join(dir, "model"), "bf16"), bf16Tokens);
});
