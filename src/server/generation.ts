// One completion request in flight: its n sequences in the engine, each choice's text decoded incrementally (never
// splitting a UTF-8 character), stop strings found on the decoded text (cut before them, the sequence aborted in
// the engine), token counts and latencies. The endpoint formats what it reports (chunks or one response).
import type { SamplingParams, SequenceOutput, TokenLogprob } from "../engine/index.js";
import { StreamDecoder } from "../models/index.js";
import { ApiError, badRequest } from "./api-error.js";
import type { EngineHost } from "./engine-host.js";
import type { FinishedReason, ServerMetrics } from "./server-metrics.js";

/** What the main thread needs of the tokenizer to turn tokens into text. */
export interface TextDecoder {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface GenerationParams {
  readonly promptIds: readonly number[];
  readonly n: number;
  readonly maxTokens: number;
  /** Sampling of choice 0; choice i uses seed + i. */
  readonly sampling: SamplingParams;
  readonly stop: readonly string[];
  /** Top alternatives per token (0–20); undefined: no logprobs. */
  readonly logprobs?: number;
  readonly ignoreEos: boolean;
  readonly skipSpecialTokens: boolean;
}

/** What one choice gained from one engine output. */
export interface ChoiceDelta {
  readonly index: number;
  readonly text: string;
  readonly tokens: readonly number[];
  /** Logprobs of `tokens` (when asked for), with each token's text. */
  readonly logprobs: readonly (TokenLogprob & { readonly text: string })[];
}

export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  readonly prompt_tokens_details: { readonly cached_tokens: number };
}

export interface GenerationListener {
  delta(d: ChoiceDelta): void;
  finish(index: number, reason: "stop" | "length"): void;
  /** Every choice has finished. */
  done(usage: Usage): void;
  /** The engine refused or lost the request: nothing more comes. */
  error(e: ApiError): void;
}

interface Choice {
  readonly index: number;
  readonly id: string;
  readonly decoder: StreamDecoder | undefined;
  tokens: number;
  decoded: string;
  emitted: number;
  lastTokenAt: number;
  finished: boolean;
}

let nextId = 0;

export class Generation {
  readonly #host: EngineHost;
  readonly #metrics: ServerMetrics;
  readonly #params: GenerationParams;
  readonly #listener: GenerationListener;
  readonly #choices: Choice[];
  readonly #arrival: number;
  readonly #maxStop: number;
  readonly #tokenText: ((id: number) => string) | undefined;
  #cachedTokens = 0;
  #firstToken = false;
  #over = false;

  constructor(host: EngineHost, metrics: ServerMetrics, tokenizer: TextDecoder | undefined, params: GenerationParams, listener: GenerationListener, arrival: number) {
    this.#host = host;
    this.#metrics = metrics;
    this.#params = params;
    this.#listener = listener;
    this.#arrival = arrival;
    this.#maxStop = Math.max(0, ...params.stop.map((s) => s.length));
    const base = `req-${process.pid}-${nextId++}`;
    const opts = { skipSpecialTokens: params.skipSpecialTokens };
    this.#choices = Array.from({ length: params.n }, (_, index) => ({
      index, id: `${base}-${index}`, tokens: 0, decoded: "", emitted: 0, lastTokenAt: 0, finished: false,
      decoder: tokenizer && new StreamDecoder((ids) => tokenizer.decode(ids, opts)),
    }));
    this.#tokenText = tokenizer && ((id) => tokenizer.decode([id]));
  }

  /** Hands the sequences to the engine. */
  start(): void {
    const { promptIds, maxTokens, sampling, logprobs, ignoreEos } = this.#params;
    this.#host.submit(
      this.#choices.map((c) => ({
        id: c.id, promptIds, maxTokens, ignoreEos,
        sampling: sampling.seed === undefined ? sampling : { ...sampling, seed: sampling.seed + c.index },
        ...(logprobs !== undefined ? { logprobs } : {}),
      })),
      (id) => {
        const choice = this.#choices.find((c) => c.id === id)!;
        return { output: (out) => this.#output(choice, out), fail: (code, message) => this.#fail(code, message) };
      },
    );
  }

  /** The client went away (or the server stops): the engine drops every unfinished sequence within a step. */
  cancel(): void {
    if (this.#over) return;
    this.#over = true;
    const live = this.#choices.filter((c) => !c.finished);
    for (const _ of live) this.#metrics.finished("abort");
    this.#host.abort(live.map((c) => c.id));
  }

  get finished(): boolean {
    return this.#over;
  }

  #output(c: Choice, out: SequenceOutput): void {
    if (this.#over || c.finished) return;
    const now = performance.now();
    this.#cachedTokens = c.index === 0 ? out.cachedTokens : this.#cachedTokens;
    if (out.tokens.length) {
      if (!this.#firstToken) {
        this.#firstToken = true;
        this.#metrics.firstToken((now - this.#arrival) / 1000);
      } else if (c.lastTokenAt) {
        this.#metrics.interToken((now - c.lastTokenAt) / 1000);
      }
      c.lastTokenAt = now;
    }
    // A finish by "stop" from the engine means the last token is a stop id (EOS): counted, never shown.
    const shown = out.finishReason === "stop" ? out.tokens.slice(0, -1) : out.tokens;
    c.tokens += out.tokens.length;
    for (const t of shown) if (c.decoder) c.decoded += c.decoder.push(t);
    if (out.finishReason && c.decoder) c.decoded += c.decoder.flush();
    const lps = this.#params.logprobs === undefined ? [] : (out.logprobs ?? []).slice(0, shown.length).map((lp) => ({ ...lp, text: this.#tokenText?.(lp.token) ?? "" }));

    const stopAt = this.#findStop(c);
    const end = stopAt ?? (out.finishReason ? c.decoded.length : this.#safeEnd(c));
    const text = end > c.emitted ? c.decoded.slice(c.emitted, end) : "";
    c.emitted = Math.max(c.emitted, end);
    if (text || shown.length) this.#listener.delta({ index: c.index, text, tokens: shown, logprobs: lps });
    if (stopAt !== undefined) {
      this.#host.abort([c.id]); // the engine keeps going otherwise: free its blocks now
      this.#finish(c, "stop");
    } else if (out.finishReason) {
      this.#finish(c, out.finishReason === "abort" ? "stop" : out.finishReason);
    }
  }

  /** Where the first stop string starts in the choice's text, if one is there. */
  #findStop(c: Choice): number | undefined {
    if (!this.#maxStop) return undefined;
    // Only the new text (and a stop string's length before it) can hold a match not seen before.
    const from = Math.max(0, c.emitted - this.#maxStop);
    let at: number | undefined;
    for (const s of this.#params.stop) {
      if (!s) continue;
      const i = c.decoded.indexOf(s, from);
      if (i >= 0 && (at === undefined || i < at)) at = i;
    }
    return at;
  }

  /** How much text is safe to show: not a tail that may be the start of a stop string. */
  #safeEnd(c: Choice): number {
    const text = c.decoded;
    for (let k = Math.min(this.#maxStop - 1, text.length - c.emitted); k > 0; k--) {
      const tail = text.slice(text.length - k);
      if (this.#params.stop.some((s) => s.startsWith(tail))) return text.length - k;
    }
    return text.length;
  }

  #finish(c: Choice, reason: "stop" | "length"): void {
    c.finished = true;
    this.#metrics.finished(reason as FinishedReason);
    this.#listener.finish(c.index, reason);
    if (this.#choices.every((x) => x.finished)) {
      this.#over = true;
      const completion = this.#choices.reduce((n, x) => n + x.tokens, 0);
      const prompt = this.#params.promptIds.length;
      this.#metrics.request(prompt, completion, (performance.now() - this.#arrival) / 1000);
      this.#listener.done({
        prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: this.#cachedTokens },
      });
    }
  }

  #fail(code: string, message: string): void {
    if (this.#over) return;
    this.cancel();
    this.#listener.error(code === "E_ARGUMENT" ? badRequest(message) : new ApiError(500, "server_error", `the engine failed: ${code}: ${message}`));
  }

  /** Usage so far (for continuous usage stats). */
  usage(): Usage {
    const completion = this.#choices.reduce((n, x) => n + x.tokens, 0);
    const prompt = this.#params.promptIds.length;
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: this.#cachedTokens } };
  }
}
