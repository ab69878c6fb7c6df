// `kiln demo`: builds a small decoder model Kiln makes itself, compiles it, and runs it at
// several token counts against eager execution — the quick start's main job until the LLM engine lands.
import { type Tensor, tensor } from "../tensor/index.js";
import { add, full, matmul, mul, permute, rmsNorm, silu, slice, softmax, triu } from "../ops/index.js";
import { compile } from "../compile/index.js";
import { Embedding, Linear, Module, RMSNorm } from "../nn/index.js";

/** A 2-layer decoder (attention + SwiGLU) over token embeddings; weights from a seed. */
class DemoLayer extends Module {
  norm: RMSNorm;
  qkv: Linear;
  o: Linear;
  up: Linear;
  gate: Linear;
  down: Linear;
  constructor(readonly dim: number, seed: number) {
    super();
    this.norm = new RMSNorm(dim);
    this.qkv = new Linear(dim, 3 * dim, { seed });
    this.o = new Linear(dim, dim, { seed: seed + 1 });
    this.gate = new Linear(dim, 2 * dim, { seed: seed + 2 });
    this.up = new Linear(dim, 2 * dim, { seed: seed + 3 });
    this.down = new Linear(2 * dim, dim, { seed: seed + 4 });
  }
  forward(x: Tensor): Tensor {
    const s = x.shape[0]!;
    const qkv = this.qkv.forward(this.norm.forward(x));
    const [q, k, v] = [0, 1, 2].map((i) => slice(qkv, 1, i * this.dim, (i + 1) * this.dim));
    const scores = add(mul(matmul(q!, permute(k!, [1, 0])), 1 / Math.sqrt(this.dim)), triu(full([s, s], -Infinity), 1));
    const h = add(x, this.o.forward(matmul(softmax(scores, -1), v!)));
    const m = rmsNorm(h, this.norm.weight);
    return add(h, this.down.forward(mul(silu(this.gate.forward(m)), this.up.forward(m))));
  }
}

export class DemoModel extends Module {
  embed: Embedding;
  layers: DemoLayer[];
  head: Linear;
  constructor(readonly vocab = 256, readonly dim = 64, seed = 7) {
    super();
    this.embed = new Embedding(vocab, dim, { seed });
    this.layers = [new DemoLayer(dim, seed + 10), new DemoLayer(dim, seed + 20)];
    this.head = new Linear(dim, vocab, { seed: seed + 30 });
  }
  forward(ids: Tensor): Tensor {
    let h = this.embed.forward(ids);
    for (const layer of this.layers) h = layer.forward(h);
    return this.head.forward(h);
  }
}

export function runDemo(log: (line: string) => void): void {
  const model = new DemoModel();
  const fast = compile(model, { dynamic: { 0: [0] } });
  log("kiln demo: a 2-layer decoder (dim 64, vocab 256), token count dynamic");
  for (const n of [7, 1, 64, 200]) {
    const ids = tensor(Array.from({ length: n }, (_, i) => (i * 31 + 5) % 256), { dtype: "i32" });
    const t0 = performance.now();
    const logits = fast(ids);
    const t1 = performance.now();
    const want = model.forward(ids);
    const t2 = performance.now();
    const a = logits.values();
    const b = want.values();
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    const note = n === 7 ? ` (includes compile: ${JSON.stringify(roundAll(fast.lastCompileReport!))} ms)` : "";
    log(`  ${String(n).padStart(3)} tokens: compiled ${(t1 - t0).toFixed(1)} ms, eager ${(t2 - t1).toFixed(1)} ms, max |diff| ${diff.toExponential(1)}${note}`);
  }
  log(`  stats: ${JSON.stringify(fast.stats)}`);
}

function roundAll(o: object): Record<string, number | string> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "number" ? Math.round(v * 10) / 10 : String(v)]));
}

