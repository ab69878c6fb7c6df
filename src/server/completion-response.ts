// Runs one completion request (chat or text) and writes its HTTP response: streamed as OpenAI's SSE chunks (role
// first, a chunk per token, a chunk with finish_reason per choice, the usage chunk only when asked, then [DONE]),
// or whole. A client that goes away cancels the request's sequences in the engine.
import type { ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { ApiError } from "./api-error.js";
import { Generation, type GenerationParams, type TextDecoder } from "./generation.js";
import type { EngineHost } from "./engine-host.js";
import { type ChoiceResult, type Formatter, deltaChoice, finishChoice, idPrefix, objectName, roleChoice, wholeChoice } from "./openai-format.js";
import type { ServerMetrics } from "./server-metrics.js";
import { SseStream } from "./sse-stream.js";

export interface CompletionContext {
  readonly host: EngineHost;
  readonly metrics: ServerMetrics;
  readonly tokenizer: TextDecoder | undefined;
  readonly modelName: string;
  readonly keepAliveMs: number;
  /** Requests in flight (the server cancels them when it stops). */
  readonly inflight: Set<InFlight>;
  /** Writes an error response (status and OpenAI body). */
  readonly sendError: (res: ServerResponse, e: ApiError) => void;
}

/** A request being answered: cancel() stops its sequences; the response is then closed by whoever cancelled. */
export interface InFlight {
  cancel(): void;
  readonly res: ServerResponse;
}

export interface StreamSettings {
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly continuousUsage: boolean;
}

export function respondCompletion(
  ctx: CompletionContext, res: ServerResponse, format: Formatter, params: GenerationParams, settings: StreamSettings, arrival: number,
): void {
  const id = idPrefix(format.kind) + randomUUID().replaceAll("-", "");
  const created = Math.floor(Date.now() / 1000);
  const head = (chunk: boolean) => ({ id, object: objectName(format.kind, chunk), created, model: ctx.modelName });
  const results: ChoiceResult[] = Array.from({ length: params.n }, () => ({ text: "", tokens: [], logprobs: [], finishReason: null }));
  const entry: InFlight = { cancel: () => gen.cancel(), res };
  let sse: SseStream | undefined;

  // With include_usage every chunk has a usage field: null, or the usage so far with continuous_usage_stats.
  const chunk = (choices: unknown[]) =>
    sse!.send({ ...head(true), choices, ...(settings.includeUsage ? { usage: settings.continuousUsage ? gen.usage() : null } : {}) });

  const gen: Generation = new Generation(ctx.host, ctx.metrics, ctx.tokenizer, params, {
    delta(d) {
      const r = results[d.index]!;
      const offset = r.text.length;
      r.text += d.text;
      r.tokens.push(...d.tokens);
      r.logprobs.push(...d.logprobs);
      // One event per token that shows something (text, or its logprobs when asked for).
      if (sse && (d.text || (format.logprobs && d.logprobs.length) || (format.returnTokenIds && d.tokens.length))) {
        chunk([deltaChoice(format, d, offset)]);
      }
    },
    finish(index, reason) {
      results[index]!.finishReason = reason;
      if (sse) chunk([finishChoice(format, index, reason)]);
    },
    done(usage) {
      ctx.inflight.delete(entry);
      if (sse) {
        if (settings.includeUsage) sse.send({ ...head(true), choices: [], usage });
        sse.done();
      } else {
        const body = JSON.stringify({ ...head(false), choices: results.map((r, i) => wholeChoice(format, i, r)), usage });
        res.writeHead(200, { "Content-Type": "application/json" }).end(body);
      }
    },
    error(e) {
      ctx.inflight.delete(entry);
      if (sse) {
        sse.send(e.body());
        sse.done();
      } else {
        ctx.sendError(res, e);
      }
    },
  }, arrival);

  if (settings.stream) {
    sse = new SseStream(res, ctx.keepAliveMs);
    if (format.kind === "chat") for (let i = 0; i < params.n; i++) chunk([roleChoice(i)]);
  }
  res.on("close", () => {
    sse?.close();
    if (!gen.finished) {
      ctx.inflight.delete(entry);
      gen.cancel();
    }
  });
  ctx.inflight.add(entry);
  gen.start();
}
