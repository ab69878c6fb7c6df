// The OpenAI response shapes of chat and text completions — whole responses and stream chunks — including both
// logprobs shapes (chat: content[]{token, logprob, bytes, top_logprobs}; completions: the legacy parallel lists).
import type { TokenLogprob } from "../engine/index.js";
import type { ChoiceDelta } from "./generation.js";
import { tokenBytes } from "./token-bytes.js";

/** JSON has no -Infinity: vLLM's stand-in. */
const NEG_INF_LOGPROB = -9999.0;
const finite = (x: number) => (Number.isFinite(x) ? x : NEG_INF_LOGPROB);

export type Kind = "chat" | "text";

/** What a finished choice holds, for a whole (non-streamed) response. */
export interface ChoiceResult {
  text: string;
  tokens: number[];
  logprobs: (TokenLogprob & { readonly text: string })[];
  finishReason: "stop" | "length" | null;
}

export interface Formatter {
  readonly kind: Kind;
  /** Text of a token id (top alternatives' text; the sampled token's comes with the delta). */
  readonly tokenText: (id: number) => string;
  /** The tokenizer's spelling of a token id (its vocabulary entry), for the token's raw bytes. */
  readonly spelling: (id: number) => string | undefined;
  readonly logprobs: boolean;
  readonly returnTokenIds: boolean;
}

function chatLogprobs(f: Formatter, lps: ChoiceDelta["logprobs"]) {
  return {
    content: lps.map((lp) => ({
      token: lp.text, logprob: finite(lp.logprob), bytes: tokenBytes(f.spelling(lp.token), lp.text),
      top_logprobs: lp.top.map((t) => {
        const text = f.tokenText(t.token);
        return { token: text, logprob: finite(t.logprob), bytes: tokenBytes(f.spelling(t.token), text) };
      }),
    })),
  };
}

/** Legacy completions logprobs; `offset` is where the first token's text starts in the choice's text. */
function textLogprobs(f: Formatter, lps: ChoiceDelta["logprobs"], offset: number) {
  const text_offset: number[] = [];
  for (const lp of lps) {
    text_offset.push(offset);
    offset += lp.text.length;
  }
  return {
    tokens: lps.map((lp) => lp.text),
    token_logprobs: lps.map((lp) => finite(lp.logprob)),
    top_logprobs: lps.map((lp) => Object.fromEntries(lp.top.map((t) => [f.tokenText(t.token), finite(t.logprob)]))),
    text_offset,
  };
}

/** A streamed choice carrying a delta (text and/or tokens). */
export function deltaChoice(f: Formatter, d: ChoiceDelta, textOffset: number): Record<string, unknown> {
  if (f.kind === "chat") {
    return { index: d.index, delta: { content: d.text }, logprobs: f.logprobs ? chatLogprobs(f, d.logprobs) : null, finish_reason: null };
  }
  return {
    index: d.index, text: d.text, logprobs: f.logprobs ? textLogprobs(f, d.logprobs, textOffset) : null, finish_reason: null,
    ...(f.returnTokenIds ? { token_ids: d.tokens } : {}),
  };
}

/** The chat stream's first chunk of a choice: the role. */
export function roleChoice(index: number): Record<string, unknown> {
  return { index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null };
}

/** The streamed choice that ends a choice. */
export function finishChoice(f: Formatter, index: number, reason: string): Record<string, unknown> {
  return f.kind === "chat" ? { index, delta: {}, logprobs: null, finish_reason: reason } : { index, text: "", logprobs: null, finish_reason: reason };
}

/** A whole response's choice. */
export function wholeChoice(f: Formatter, index: number, c: ChoiceResult): Record<string, unknown> {
  if (f.kind === "chat") {
    return { index, message: { role: "assistant", content: c.text }, logprobs: f.logprobs ? chatLogprobs(f, c.logprobs) : null, finish_reason: c.finishReason };
  }
  return {
    index, text: c.text, logprobs: f.logprobs ? textLogprobs(f, c.logprobs, 0) : null, finish_reason: c.finishReason,
    ...(f.returnTokenIds ? { token_ids: c.tokens } : {}),
  };
}

export const objectName = (kind: Kind, chunk: boolean) => (kind === "chat" ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
export const idPrefix = (kind: Kind) => (kind === "chat" ? "chatcmpl-" : "cmpl-");
