// Chat templates: Qwen3's real template (from its tokenizer_config.json) renders the prompt format Qwen documents,
// `<|im_start|>{role}\n{content}<|im_end|>\n`; the golden strings below are written by hand from that format.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bundledTokenizerDir, loadTokenizer, renderChat, type ChatMessage } from "../../src/models/index.js";
import { ArgumentError, ModelFormatError } from "../../src/util/index.js";

const qwen = loadTokenizer(bundledTokenizerDir("qwen3"))!;
const template = qwen.chatTemplate!;
const ask: ChatMessage[] = [{ role: "user", content: "Give me a short introduction to large language models." }];

test("Qwen3, thinking on (the default): the prompt ends with the assistant header", () => {
  const want = "<|im_start|>user\nGive me a short introduction to large language models.<|im_end|>\n<|im_start|>assistant\n";
  assert.equal(renderChat(template, ask, { addGenerationPrompt: true }), want);
  assert.equal(renderChat(template, ask, { addGenerationPrompt: true, enableThinking: true }), want);
});

test("Qwen3, enable_thinking=false: an empty think block follows the assistant header", () => {
  assert.equal(
    renderChat(template, ask, { addGenerationPrompt: true, enableThinking: false }),
    "<|im_start|>user\nGive me a short introduction to large language models.<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
  );
});

test("Qwen3, system message and several turns: earlier assistant turns lose their thinking", () => {
  const messages: ChatMessage[] = [
    { role: "system", content: "You are a helpful assistant." },
    { role: "user", content: "How many r's are in strawberry?" },
    { role: "assistant", content: "<think>\nCount them: s-t-r-a-w-b-e-r-r-y.\n</think>\n\nThere are three r's." },
    { role: "user", content: "And in raspberry?" },
    { role: "assistant", content: "<think>\nr-a-s-p-b-e-r-r-y\n</think>\n\nAlso three." },
    { role: "user", content: "Thanks!" },
  ];
  assert.equal(
    renderChat(template, messages, { addGenerationPrompt: true }),
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n" +
      "<|im_start|>user\nHow many r's are in strawberry?<|im_end|>\n" +
      "<|im_start|>assistant\nThere are three r's.<|im_end|>\n" +
      "<|im_start|>user\nAnd in raspberry?<|im_end|>\n" +
      "<|im_start|>assistant\nAlso three.<|im_end|>\n" +
      "<|im_start|>user\nThanks!<|im_end|>\n" +
      "<|im_start|>assistant\n",
  );
});

test("Qwen3: the reply to the last question keeps its thinking; no generation prompt when not asked", () => {
  const messages: ChatMessage[] = [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "<think>\nGreet back.\n</think>\n\nHello!" },
  ];
  assert.equal(renderChat(template, messages), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nGreet back.\n</think>\n\nHello!<|im_end|>\n");
  const split: ChatMessage[] = [messages[0]!, { role: "assistant", content: "Hello!", reasoning_content: "Greet back." }];
  assert.equal(renderChat(template, split), renderChat(template, messages));
});

test("Tokenizer.applyChatTemplate renders with the tokenizer's own template; the prompt encodes to the chat ids", () => {
  const text = qwen.applyChatTemplate([{ role: "user", content: "hi" }], { addGenerationPrompt: true, enableThinking: false });
  assert.equal(text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  assert.deepEqual(qwen.encode(text).slice(0, 9), [151644, 872, 198, 6023, 151645, 198, 151644, 77091, 198]);
  assert.deepEqual(qwen.encode(text).slice(9), [151667, 271, 151668, 271]);
});

test("a template that does not parse is a ModelFormatError naming its source; raise_exception an ArgumentError", () => {
  assert.throws(() => renderChat("{% for %}", ask, { source: "x/tokenizer_config.json" }), (e: unknown) => e instanceof ModelFormatError && e.path === "x/tokenizer_config.json");
  assert.throws(() => renderChat("{{ raise_exception('roles must alternate') }}", ask), (e: unknown) => e instanceof ArgumentError && /roles must alternate/.test(e.message));
});
