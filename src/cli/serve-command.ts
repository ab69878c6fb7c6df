// `kiln serve`: the OpenAI-compatible HTTP server over a model folder. The port opens first; one line on stdout
// when the model is ready; SIGTERM/SIGINT stop it cleanly (in-flight requests get a grace period, then exit 0).
import { KilnServer, type ServeOptions } from "../server/index.js";
import { ArgumentError, MAX_THREADS } from "../util/index.js";
import type { ModelOptions } from "./generate-command.js";

export interface ServeCommandOptions extends ModelOptions {
  readonly host: string;
  readonly port: string;
  readonly servedModelName?: string;
  readonly apiKey?: string;
  readonly maxNumSeqs: string;
  readonly maxNumBatchedTokens: string;
  readonly maxQueuedRequests: string;
  readonly prefixCaching: boolean;
  readonly warmup: boolean;
  readonly shutdownGrace: string;
}

function integer(flag: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ArgumentError(flag, `expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, got '${text}'`);
  }
  return n;
}

function choice<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T | undefined {
  if (text === undefined || (allowed as readonly string[]).includes(text)) return text as T | undefined;
  throw new ArgumentError(flag, `expected ${allowed.join(" | ")}, got '${text}'`);
}

/** The command's flags as server options (every flag checked before anything starts). */
export function serveOptions(o: ServeCommandOptions): ServeOptions & { readonly shutdownGraceMs: number } {
  const backend = choice("--backend", o.backend, ["native", "js", "auto"] as const);
  const dtype = choice("--dtype", o.dtype, ["f32", "bf16"] as const);
  const kvCacheDtype = choice("--kv-cache-dtype", o.kvCacheDtype, ["f32", "bf16"] as const);
  const kvCacheTokens = integer("--kv-cache-tokens", o.kvCacheTokens, 1);
  const threads = integer("--threads", o.threads, 1, MAX_THREADS);
  if (o.apiKey !== undefined && o.apiKey.length === 0) throw new ArgumentError("--api-key", "must not be empty");
  if (o.servedModelName !== undefined && o.servedModelName.length === 0) throw new ArgumentError("--served-model-name", "must not be empty");
  const maxNumSeqs = integer("--max-num-seqs", o.maxNumSeqs, 1, 1024)!;
  const maxNumBatchedTokens = integer("--max-num-batched-tokens", o.maxNumBatchedTokens, 1)!;
  // Every running sequence decodes one token a step: the budget must hold them all (the scheduler's rule too).
  if (maxNumBatchedTokens < maxNumSeqs) throw new ArgumentError("--max-num-batched-tokens", `must be at least --max-num-seqs (${maxNumSeqs}), got ${maxNumBatchedTokens}`);
  return {
    engine: {
      model: o.model,
      ...(backend ? { backend } : {}),
      ...(dtype ? { dtype } : {}),
      ...(kvCacheDtype ? { kvCacheDtype } : {}),
      ...(kvCacheTokens !== undefined ? { kvCacheTokens } : {}),
      ...(threads !== undefined ? { threads } : {}),
      maxNumSeqs,
      maxNumBatchedTokens,
      enablePrefixCaching: o.prefixCaching,
      warmup: o.warmup,
    },
    host: o.host,
    port: integer("--port", o.port, 0, 65535)!,
    ...(o.servedModelName !== undefined ? { servedModelName: o.servedModelName } : {}),
    ...(o.apiKey !== undefined ? { apiKey: o.apiKey } : {}),
    maxQueuedRequests: integer("--max-queued-requests", o.maxQueuedRequests, 1)!,
    shutdownGraceMs: integer("--shutdown-grace", o.shutdownGrace, 0, 3600)! * 1000,
  };
}

export async function runServe(o: ServeCommandOptions, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const options = serveOptions(o);
  const server = await KilnServer.start(options);
  err(`kiln: serve: listening on ${server.url}; loading ${options.engine.model}`);
  let stop!: (signal: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal does not wait for the grace period.
    process.once(signal, () => process.exit(130));
    stop(signal);
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  try {
    const outcome = await Promise.race([server.ready().then(() => "ready" as const), stopped]);
    if (outcome === "ready") {
      out(`kiln: serving ${server.modelName} on ${server.url}`);
      err(`kiln: serve: stopping (${await stopped})`);
    }
  } finally {
    await server.close(options.shutdownGraceMs);
    // Nothing of the server is left: an exit guard in case a library keeps a handle open.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  }
}
