// The tokenizer layer on the real Qwen3 and Llama 3.2 tokenizer files: ids that the models' own tokenizers give,
// round trips on multilingual text, special tokens, eos ids, and malformed files named in the error.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { bundledTokenizerDir, loadTokenizer, type Tokenizer } from "../../src/models/index.js";
import { ModelFormatError } from "../../src/util/index.js";

const qwen = loadTokenizer(bundledTokenizerDir("qwen3"))!;
const llama = loadTokenizer(bundledTokenizerDir("llama3.2"))!;
const tmp = mkdtempSync(join(tmpdir(), "kiln-tok-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A minimal valid tokenizer (3 BPE ids and an `<eos>`), written into `dir`. */
const small = JSON.stringify({
  normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
  model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
  added_tokens: [{ id: 3, content: "<eos>", special: true }],
});
const writeSmall = (dir: string) => {
  mkdirSync(dir);
  writeFileSync(join(dir, "tokenizer.json"), small);
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<eos>" }));
};

const TEXTS = [
  "Hello world! The quick brown fox jumps over the lazy dog.",
  "你好，世界。大型语言模型是什么？",
  "日本語のテキストと한국어 텍스트",
  "emoji 🎉 family 👩‍👩‍👧 flag 🇯🇵 skin 👍🏽",
  "naïve café – Ünïcödé, مرحبا بالعالم, Привет",
  "  leading spaces\n\ttabs\r\nand   runs   of spaces  ",
  "code: for (let i = 0; i < 1234567; i++) { x += arr[i] ** 2; }",
];

test("Qwen3: known ids, no BOS, and the chat special tokens", () => {
  assert.deepEqual(qwen.encode("Hello world"), [9707, 1879]);
  assert.deepEqual(qwen.encode("你好"), [108386]);
  assert.deepEqual(qwen.encode("<|im_start|>user\nhi<|im_end|>"), [151644, 872, 198, 6023, 151645]);
  assert.equal(qwen.tokenToId("<|endoftext|>"), 151643);
  assert.equal(qwen.tokenToId("<|im_start|>"), 151644);
  assert.equal(qwen.tokenToId("<|im_end|>"), 151645);
  assert.equal(qwen.tokenToId("<think>"), 151667);
  assert.equal(qwen.tokenToId("</think>"), 151668);
  assert.equal(qwen.idToToken(151644), "<|im_start|>");
  assert.equal(qwen.eosToken, "<|im_end|>");
  assert.deepEqual(qwen.eosTokenIds, [151645]);
  assert.equal(qwen.bosTokenId, undefined);
  assert.equal(qwen.size, 151669);
  assert.ok(qwen.isSpecial(151644) && qwen.isSpecial(151643) && !qwen.isSpecial(9707));
  assert.ok(qwen.chatTemplate?.includes("enable_thinking"));
});

test("Llama 3.2: BOS added by the post-processor, eos <|eot_id|>", () => {
  assert.deepEqual(llama.encode("Hello world"), [128000, 9906, 1917]);
  assert.deepEqual(llama.encode("Hello world", { addSpecialTokens: false }), [9906, 1917]);
  assert.equal(llama.bosTokenId, 128000);
  assert.deepEqual(llama.eosTokenIds, [128009]);
  assert.equal(llama.tokenToId("<|start_header_id|>"), 128006);
  assert.equal(llama.tokenToId("<|end_of_text|>"), 128001);
  assert.equal(llama.size, 128256);
});

for (const [name, tok] of [["Qwen3", qwen], ["Llama 3.2", llama]] as [string, Tokenizer][]) {
  test(`${name}: encode then decode gives back CJK, emoji, accents and whitespace exactly`, () => {
    for (const text of TEXTS) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      assert.ok(ids.length > 0 && ids.length < text.length * 2, `${text}: ${ids.length} ids`);
      assert.equal(tok.decode(ids), text);
    }
  });

  test(`${name}: streaming decode of each text equals the whole decode, one whole character at a time`, () => {
    for (const text of TEXTS) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      const s = tok.createStreamDecoder();
      const deltas = ids.map((id) => s.push(id));
      deltas.push(s.flush());
      assert.equal(deltas.join(""), text);
      for (const d of deltas) assert.ok(!d.includes("\uFFFD"), `${JSON.stringify(d)} holds a split character`);
    }
  });
}

test("Qwen3 streaming: 🎉 spans three byte tokens and appears only with the last", () => {
  const ids = qwen.encode(" 🎉!");
  assert.deepEqual(ids, [11162, 236, 231, 0]);
  const s = qwen.createStreamDecoder();
  assert.deepEqual(ids.map((id) => s.push(id)), [" ", "", "🎉", "!"]);
  assert.equal(s.flush(), "");
});

test("Llama 3.2: Meta's header format, with BOS from the tokenizer and a fixed date", () => {
  const text = llama.applyChatTemplate(
    [{ role: "system", content: "You are helpful." }, { role: "user", content: "Hi" }],
    { addGenerationPrompt: true, variables: { date_string: "26 Jul 2024" } },
  );
  assert.equal(
    text,
    "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
      "You are helpful.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
  );
});

test("decode skips special tokens on request and ignores ids beyond the tokenizer (padded model vocab)", () => {
  const ids = qwen.encode("<|im_start|>assistant\nHi there<|im_end|>");
  assert.equal(qwen.decode(ids), "<|im_start|>assistant\nHi there<|im_end|>");
  assert.equal(qwen.decode(ids, { skipSpecialTokens: true }), "assistant\nHi there");
  assert.equal(qwen.decode([9707, 151900, 1879]), "Hello world");
  assert.equal(qwen.decode([]), "");
  const s = qwen.createStreamDecoder({ skipSpecialTokens: true });
  assert.equal(ids.map((id) => s.push(id)).join("") + s.flush(), "assistant\nHi there");
});

test("loadTokenizer: undefined without tokenizer.json; generation_config eos ids join the tokenizer's", () => {
  assert.equal(loadTokenizer(tmp), undefined);
  const dir = join(tmp, "with-gen");
  writeSmall(dir);
  writeFileSync(join(dir, "generation_config.json"), JSON.stringify({ eos_token_id: [1, 3, 0] }));
  assert.deepEqual(loadTokenizer(dir)!.eosTokenIds, [3, 1, 0]);
});

test("malformed tokenizer files are ModelFormatErrors naming the file", () => {
  const cases: [string, string, string][] = [
    ["tokenizer.json", "{ not json", "tokenizer.json"],
    ["tokenizer.json", "not json {\n\n", "tokenizer.json"],
    ["tokenizer.json", "", "tokenizer.json"],
    ["tokenizer.json", `{"normalizer": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`, "tokenizer.json"],
    ["tokenizer.json", "[1, 2]", "tokenizer.json"],
    ["tokenizer.json", JSON.stringify({ model: { type: "NoSuchModel" } }), "tokenizer.json"],
    ["tokenizer_config.json", "{", "tokenizer_config.json"],
    ["tokenizer_config.json", JSON.stringify({ eos_token: 42 }), "tokenizer_config.json"],
    ["tokenizer_config.json", JSON.stringify({ eos_token: "<|no-such-token|>" }), "tokenizer_config.json"],
    ["generation_config.json", JSON.stringify({ eos_token_id: "x" }), "generation_config.json"],
  ];
  writeSmall(join(tmp, "good"));
  const good = loadTokenizer(join(tmp, "good"))!;
  assert.deepEqual([good.encode("ab<eos>"), good.eosTokenIds], [[2, 3], [3]]);
  cases.forEach(([file, text, named], i) => {
    const dir = join(tmp, `bad${i}`);
    writeSmall(dir);
    writeFileSync(join(dir, file), text);
    // One line: the message never carries the file's own newlines.
    assert.throws(() => loadTokenizer(dir), (e: unknown) => e instanceof ModelFormatError && e.path === join(dir, named) && !e.message.includes("\n"), `${file}: ${text.slice(0, 40)}`);
  });
});
