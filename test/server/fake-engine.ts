// A small deterministic stand-in for the engine (the EngineModule the server's worker loads), so HTTP behaviour is
// tested without model compute: continuous batching in miniature (decodes first, then prefill chunks within a token
// budget), tokens a hash of (prompt, position, seed), EOS now and then, fake logprobs. FAKE_LOAD_MS blocks each load
// phase that long; FAKE_STEP_MS blocks each step (a slow forward).
import type { SequenceOutput, SequenceRequest, SchedulerStats } from "../../src/engine/index.js";
import type { EngineModule, EngineSpec, LoadPhase, StepScheduler } from "../../src/server/index.js";

export const FAKE_EOS = 151645;
const block = (ms: number) => ms > 0 && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function hash(...xs: number[]): number {
  let h = 2166136261;
  for (const x of xs) h = Math.imul(h ^ (x | 0), 16777619) >>> 0;
  return h;
}

/** The fake's token at generated position `i` of a sequence. */
export function fakeToken(prompt: readonly number[], i: number, seed: number): number {
  const h = hash(prompt.length, prompt[prompt.length - 1] ?? 0, prompt[0] ?? 0, i, seed);
  return h % 41 === 40 ? FAKE_EOS : 1000 + (h % 4000);
}

interface Seq {
  readonly req: SequenceRequest;
  computed: number;
  generated: number[];
}

class FakeScheduler implements StepScheduler {
  readonly #waiting: Seq[] = [];
  readonly #running: Seq[] = [];
  readonly #spec: EngineSpec;
  #promptTokens = 0;
  #generationTokens = 0;
  #steps = 0;

  constructor(spec: EngineSpec) {
    this.#spec = spec;
  }

  add(req: SequenceRequest): void {
    if ([...this.#waiting, ...this.#running].some((s) => s.req.id === req.id)) throw new Error(`duplicate id ${req.id}`);
    this.#waiting.push({ req, computed: 0, generated: [] });
  }

  abort(id: string): SequenceOutput | undefined {
    for (const list of [this.#waiting, this.#running]) {
      const i = list.findIndex((s) => s.req.id === id);
      if (i >= 0) {
        const [s] = list.splice(i, 1);
        return { id, tokens: [], finishReason: "abort", promptTokens: s!.req.promptIds.length, cachedTokens: 0 };
      }
    }
    return undefined;
  }

  get hasWork(): boolean {
    return this.#waiting.length + this.#running.length > 0;
  }

  step(): SequenceOutput[] {
    block(Number(process.env.FAKE_STEP_MS ?? 0));
    this.#steps++;
    let budget = this.#spec.maxNumBatchedTokens;
    const outputs: SequenceOutput[] = [];
    const emit = (s: Seq) => {
      const seed = s.req.sampling.seed ?? 0;
      const t = fakeToken(s.req.promptIds, s.generated.length, (s.req.sampling.temperature ?? 0) > 0 ? seed : 0);
      s.generated.push(t);
      this.#generationTokens++;
      const stop = !s.req.ignoreEos && t === FAKE_EOS;
      const finishReason = stop ? "stop" : s.generated.length >= s.req.maxTokens ? "length" : undefined;
      const lp = s.req.logprobs === undefined ? undefined : [{
        token: t, logprob: -((t % 100) / 10),
        top: Array.from({ length: s.req.logprobs }, (_, k) => ({ token: t + k, logprob: -((t % 100) / 10) - k })),
      }];
      outputs.push({ id: s.req.id, tokens: [t], ...(lp ? { logprobs: lp } : {}), ...(finishReason ? { finishReason } : {}), promptTokens: s.req.promptIds.length, cachedTokens: 0 });
      return finishReason !== undefined;
    };
    // Decodes first: one token each.
    for (const s of [...this.#running]) {
      if (s.computed < s.req.promptIds.length) continue;
      budget--;
      if (emit(s)) this.#running.splice(this.#running.indexOf(s), 1);
    }
    // Then prefill chunks (running sequences still prefilling, then new ones) within the budget.
    while (budget > 0 && this.#waiting.length && this.#running.length < this.#spec.maxNumSeqs) this.#running.push(this.#waiting.shift()!);
    for (const s of [...this.#running]) {
      const left = s.req.promptIds.length - s.computed;
      if (left <= 0 || budget <= 0) continue;
      const chunk = Math.min(left, budget);
      budget -= chunk;
      s.computed += chunk;
      this.#promptTokens += chunk;
      if (s.computed < s.req.promptIds.length) outputs.push({ id: s.req.id, tokens: [], promptTokens: s.req.promptIds.length, cachedTokens: 0 });
      else if (emit(s)) this.#running.splice(this.#running.indexOf(s), 1);
    }
    return outputs;
  }

  stats(): SchedulerStats {
    return {
      running: this.#running.length, waiting: this.#waiting.length, kvCacheUsage: this.#running.length / this.#spec.maxNumSeqs, preemptions: 0,
      prefixCacheQueries: 0, prefixCacheHits: 0, promptTokens: this.#promptTokens, generationTokens: this.#generationTokens, steps: this.#steps,
    };
  }
}

export const openEngine: EngineModule["openEngine"] = (spec: EngineSpec, phase: (p: LoadPhase) => void) => {
  const loadMs = Number(process.env.FAKE_LOAD_MS ?? 0);
  for (const p of ["loading_weights", "loading_bundle", "warmup"] as const) {
    phase(p);
    block(loadMs);
  }
  if (process.env.FAKE_LOAD_FAIL) throw new Error(process.env.FAKE_LOAD_FAIL);
  return { scheduler: new FakeScheduler(spec), info: { maxContext: Number(process.env.FAKE_MAX_CONTEXT ?? 256), vocabSize: 151936, compileOutcomes: ["loaded"] } };
};
