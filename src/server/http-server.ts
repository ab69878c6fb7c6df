// `kiln serve`'s HTTP side (node:http): the port opens first, then the engine thread loads while /health reports
// its phase; OpenAI-compatible endpoints validate with zod, admit (bounded) before tokenizing, and stream; errors
// have OpenAI's shape; a stop ends in-flight requests within a grace period.
import { createHash, timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { KilnError, logLine } from "../util/index.js";
import { ApiError, badRequest } from "./api-error.js";
import { type CompletionContext, type InFlight, respondCompletion } from "./completion-response.js";
import { EngineHost } from "./engine-host.js";
import type { EngineInfo, EngineSpec } from "./engine-protocol.js";
import { checkTokensField, generationParams } from "./generation-params.js";
import { ModelText } from "./model-text.js";
import type { Formatter } from "./openai-format.js";
import {
  type ChatCompletionRequest, type CompletionRequest, chatCompletionRequest, completionRequest, detokenizeRequest, parseBody,
  refuseUnsupported, tokenizeChatRequest, tokenizePromptRequest, unknownFields,
} from "./request-schemas.js";
import { ServerMetrics } from "./server-metrics.js";

export interface ServeOptions {
  readonly engine: EngineSpec;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** The model id clients name (default: the model folder as given). */
  readonly servedModelName?: string;
  /** Bearer token the /v1 and tokenizer endpoints require (health and metrics stay open). */
  readonly apiKey?: string;
  /** Sequences in flight (waiting + running, n counted as n) past which requests get 503. */
  readonly maxQueuedRequests: number;
  /** SSE keep-alive comment after this long without an event (default 15 s). */
  readonly keepAliveMs?: number;
  /** The module that builds the engine in its thread (tests use a fake). */
  readonly engineModule?: string;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const RETRY_AFTER_S = "1";

export class KilnServer {
  readonly modelName: string;
  readonly metrics: ServerMetrics;
  readonly host: EngineHost;
  readonly #options: ServeOptions;
  readonly #http: Server;
  readonly #inflight = new Set<InFlight>();
  readonly #loggedFields = new Set<string>();
  readonly #apiKeyDigest: Buffer | undefined;
  readonly #created = Math.floor(Date.now() / 1000);
  #text: ModelText | undefined;
  #textError: KilnError | undefined;
  #ready: Promise<EngineInfo>;
  #settle!: { resolve: (i: EngineInfo) => void; reject: (e: Error) => void };
  #stopping = false;

  private constructor(options: ServeOptions) {
    this.#options = options;
    this.modelName = options.servedModelName ?? options.engine.model;
    this.metrics = new ServerMetrics(this.modelName);
    this.#apiKeyDigest = options.apiKey === undefined ? undefined : digest(options.apiKey);
    this.#ready = new Promise((resolve, reject) => (this.#settle = { resolve, reject }));
    this.#ready.catch(() => {}); // observed through ready()
    this.host = new EngineHost(options.engine, {
      onStats: (s) => this.metrics.update(s),
      onReady: (info) => {
        this.metrics.ready(info);
        this.#checkReady();
      },
      onFailed: (code, message) => this.#settle.reject(new EngineFailedError(code, message)),
    }, options.engineModule);
    this.#http = createServer((req, res) => {
      this.#route(req, res).catch((e) => this.#sendError(res, toApiError(e)));
    });
  }

  /** Binds the port, then starts loading (the engine in its thread, the tokenizer here). */
  static async start(options: ServeOptions): Promise<KilnServer> {
    const server = new KilnServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#http.once("error", (e: NodeJS.ErrnoException) => reject(new ListenError(options.host, options.port, e)));
      server.#http.listen(options.port, options.host, () => {
        server.#http.off("error", reject);
        resolve();
      });
    });
    server.host.start();
    // The tokenizer loads on this thread (parsing tokenizer.json takes a moment) while the worker loads weights.
    setImmediate(() => {
      try {
        server.#text = new ModelText(options.engine.model);
      } catch (e) {
        server.#textError = e instanceof KilnError ? e : new EngineFailedError("E_INTERNAL", (e as Error).message);
        server.#settle.reject(server.#textError);
        return;
      }
      server.#checkReady();
    });
    return server;
  }

  get url(): string {
    const a = this.#http.address() as AddressInfo;
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  get port(): number {
    return (this.#http.address() as AddressInfo).port;
  }

  /** Resolves when the engine is warm and the tokenizer loaded; rejects (a KilnError) when loading failed. */
  ready(): Promise<EngineInfo> {
    return this.#ready;
  }

  #checkReady(): void {
    const s = this.host.state;
    if (s.status === "ready" && this.#text) this.#settle.resolve(s.info);
  }

  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, cancels the rest (their
   * connections closed), then stops the engine thread.
   */
  async close(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    this.#http.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.#inflight.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const r of [...this.#inflight]) {
      r.cancel();
      r.res.destroy();
    }
    this.#inflight.clear();
    this.#http.closeAllConnections();
    await closed;
    await this.host.close();
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrival = performance.now();
    const path = (req.url ?? "/").split("?")[0]!;
    const method = req.method ?? "GET";
    const route = async (m: string, handler: () => unknown): Promise<void> => {
      if (method !== m) throw new ApiError(405, "invalid_request_error", `${path} takes ${m}, not ${method}`);
      await handler();
    };
    switch (path) {
      case "/health":
        return route("GET", () => this.#health(res));
      case "/metrics":
        return route("GET", async () => {
          const text = await this.metrics.text();
          res.writeHead(200, { "Content-Type": this.metrics.contentType }).end(text);
        });
    }
    this.#authorize(req);
    switch (path) {
      case "/v1/models":
        return route("GET", () => this.#models(res));
      case "/v1/chat/completions":
        return route("POST", async () => this.#completion(res, "chat", await readJson(req), arrival));
      case "/v1/completions":
        return route("POST", async () => this.#completion(res, "text", await readJson(req), arrival));
      case "/tokenize":
        return route("POST", async () => this.#tokenize(res, await readJson(req)));
      case "/detokenize":
        return route("POST", async () => this.#detokenize(res, await readJson(req)));
      default:
        throw new ApiError(404, "not_found_error", `no route ${method} ${path}`);
    }
  }

  #health(res: ServerResponse): void {
    const s = this.host.state;
    const elapsed_s = Number(((performance.now() - this.host.startedAt) / 1000).toFixed(3));
    if (s.status === "failed" || this.#textError) {
      const e = this.#textError ?? { code: (s as { code: string }).code, message: (s as { message: string }).message };
      sendJson(res, 503, { status: "failed", error: { code: e.code, message: e.message.split("\n")[0] } });
    } else if (s.status === "loading" || !this.#text) {
      sendJson(res, 503, { status: "loading", phase: s.status === "loading" ? s.phase : "loading_tokenizer", elapsed_s });
    } else if (this.#stopping) {
      sendJson(res, 503, { status: "stopping" });
    } else {
      sendJson(res, 200, { status: "ok" });
    }
  }

  #models(res: ServerResponse): void {
    const s = this.host.state;
    sendJson(res, 200, {
      object: "list",
      data: [{
        id: this.modelName, object: "model", created: this.#created, owned_by: "kiln", root: this.#options.engine.model, parent: null,
        max_model_len: s.status === "ready" ? s.info.maxContext : null,
      }],
    });
  }

  #authorize(req: IncomingMessage): void {
    if (!this.#apiKeyDigest) return;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), this.#apiKeyDigest)) {
      throw new ApiError(401, "authentication_error", m ? "Invalid API key" : "Missing API key: send Authorization: Bearer <key>");
    }
  }

  /** The engine info and tokenizer of a ready server, else 503 (loading, failed or stopping). */
  #readyParts(): { info: EngineInfo; text: ModelText } {
    const s = this.host.state;
    if (this.#stopping) throw new ApiError(503, "unavailable_error", "the server is shutting down", null, { "Retry-After": RETRY_AFTER_S });
    if (s.status === "failed" || this.#textError) throw new ApiError(503, "unavailable_error", "the model failed to load (see /health)");
    if (s.status !== "ready" || !this.#text) {
      throw new ApiError(503, "unavailable_error", `Loading model (${s.status === "loading" ? s.phase : "loading_tokenizer"})`, null, { "Retry-After": RETRY_AFTER_S });
    }
    return { info: s.info, text: this.#text };
  }

  #checkModel(model: string | null | undefined): void {
    if (model != null && model !== this.modelName) throw new ApiError(404, "not_found_error", `The model \`${model}\` does not exist.`, "model");
  }

  #logUnknown(fields: string[]): void {
    for (const f of fields) {
      if (this.#loggedFields.has(f)) continue;
      this.#loggedFields.add(f);
      logLine(`serve: request field \`${f}\` is not known and was ignored (logged once per field name)`);
    }
  }

  #completion(res: ServerResponse, kind: "chat" | "text", body: unknown, arrival: number): void {
    const { info, text } = this.#readyParts();
    const schema = kind === "chat" ? chatCompletionRequest : completionRequest;
    const req = parseBody(schema, body) as ChatCompletionRequest | CompletionRequest;
    this.#logUnknown(unknownFields(schema, body as object));
    this.#checkModel(req.model);
    refuseUnsupported(req);
    checkTokensField(req);
    // Admission before tokenizing or templating: a burst past the cap costs nothing but the parse.
    const n = req.n ?? 1;
    if (this.host.liveSequences + n > this.#options.maxQueuedRequests) {
      throw new ApiError(503, "server_overloaded", `the server is at its limit of ${this.#options.maxQueuedRequests} queued sequences (--max-queued-requests); retry later`, null, { "Retry-After": RETRY_AFTER_S });
    }
    let promptIds: number[];
    let logprobs: number | undefined;
    let format: Formatter;
    const tokenText = (id: number) => text.tokenizer?.decode([id]) ?? "";
    const spelling = (id: number) => text.tokenizer?.idToToken(id);
    if (kind === "chat") {
      const chat = req as ChatCompletionRequest;
      promptIds = text.chat(chat.messages, {
        addGenerationPrompt: chat.add_generation_prompt ?? true,
        ...(chat.chat_template_kwargs?.enable_thinking !== undefined ? { enableThinking: chat.chat_template_kwargs.enable_thinking } : {}),
      });
      logprobs = chat.logprobs ? (chat.top_logprobs ?? 0) : undefined;
      format = { kind, tokenText, spelling, logprobs: !!chat.logprobs, returnTokenIds: false };
    } else {
      const c = req as CompletionRequest;
      // A prompt is text or token ids, alone or as a list of one.
      const p = c.prompt;
      const one = Array.isArray(p) && typeof p[0] !== "number" ? (p[0] as string | number[]) : (p as string | number[]);
      promptIds = typeof one === "string" ? text.encode(one, "prompt") : [...one];
      if (promptIds.length === 0) throw badRequest("the prompt is empty (no tokens)", "prompt");
      if (promptIds.some((id) => id >= info.vocabSize)) throw badRequest(`token ids must be below the vocabulary size ${info.vocabSize}`, "prompt");
      logprobs = c.logprobs ?? undefined;
      format = { kind, tokenText, spelling, logprobs: c.logprobs != null, returnTokenIds: c.return_token_ids ?? !text.tokenizer };
    }
    const params = generationParams(req, promptIds, kind === "chat" ? "messages" : "prompt", info.maxContext, text.defaults, logprobs);
    const ctx: CompletionContext = {
      host: this.host, metrics: this.metrics, tokenizer: text.tokenizer, modelName: this.modelName,
      keepAliveMs: this.#options.keepAliveMs ?? 15_000, inflight: this.#inflight, sendError: (r, e) => this.#sendError(r, e),
    };
    const stream = req.stream ?? false;
    const includeUsage = stream && (req.stream_options?.include_usage ?? false);
    respondCompletion(ctx, res, format, params, { stream, includeUsage, continuousUsage: includeUsage && (req.stream_options?.continuous_usage_stats ?? false) }, arrival);
  }

  #tokenize(res: ServerResponse, body: unknown): void {
    const { info, text } = this.#readyParts();
    // A conversation (templated as for chat) or a text prompt.
    const isChat = typeof body === "object" && body !== null && "messages" in body;
    let tokens: number[];
    if (isChat) {
      const req = parseBody(tokenizeChatRequest, body);
      this.#checkModel(req.model);
      const thinking = req.chat_template_kwargs?.enable_thinking;
      tokens = text.chat(req.messages, { addGenerationPrompt: req.add_generation_prompt ?? true, ...(thinking !== undefined ? { enableThinking: thinking } : {}) });
    } else {
      const req = parseBody(tokenizePromptRequest, body);
      this.#checkModel(req.model);
      tokens = text.encode(req.prompt, "prompt", req.add_special_tokens ?? true);
    }
    sendJson(res, 200, { count: tokens.length, max_model_len: info.maxContext, tokens, token_strs: null });
  }

  #detokenize(res: ServerResponse, body: unknown): void {
    const { text } = this.#readyParts();
    const req = parseBody(detokenizeRequest, body);
    this.#checkModel(req.model);
    sendJson(res, 200, { prompt: text.decode(req.tokens) });
  }

  #sendError(res: ServerResponse, e: ApiError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(e.status, { "Content-Type": "application/json", ...e.headers }).end(JSON.stringify(e.body()));
  }
}

/** The port could not be bound (in use, no permission, unknown host). */
export class ListenError extends KilnError {
  readonly code = "E_LISTEN";
  constructor(
    readonly host: string,
    readonly port: number,
    cause: NodeJS.ErrnoException,
  ) {
    super(`cannot listen on ${host}:${port}: ${cause.code ?? cause.message}`, { cause });
  }
}

/** Loading failed (in the engine thread, or the tokenizer here): the error's code and one-line message. */
export class EngineFailedError extends KilnError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(body));
}

/** A thrown error as the client sees it: ours as they are, anything else a 500 with one line (never a stack). */
function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof KilnError && e.code === "E_ARGUMENT") return badRequest(e.message.split("\n")[0]!);
  const message = `${(e as Error)?.message ?? String(e)}`.split("\n")[0]!;
  logLine(`serve: internal error: ${message}`);
  return new ApiError(500, "server_error", `internal error: ${message}`);
}

/** The request body as JSON: 400 when it is not JSON, 413 past MAX_BODY_BYTES. */
async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, "invalid_request_error", `the request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (e) {
    throw badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}
