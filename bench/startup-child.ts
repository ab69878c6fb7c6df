// One fresh process of the startup benchmark: builds an N-layer model (empty weights: they never
// enter the bundle), then gets its compiled forward from the cache (cold: compile) and runs 1 token.
import { Module, type Tensor, counters, loadOrCompile, randn, setLogSink } from "../src/index.js";
import { DecoderBlock, type BlockConfig } from "../test/nn/decoder-block.js";

class Decoder extends Module {
  readonly config: BlockConfig & { layers: number };
  layers: DecoderBlock[];
  constructor(cfg: BlockConfig, n: number) {
    super();
    this.config = { ...cfg, layers: n };
    this.layers = Array.from({ length: n }, (_, i) => new DecoderBlock(cfg, i, "empty"));
  }
  forward(x: Tensor): Tensor {
    for (const l of this.layers) x = l.forward(x);
    return x;
  }
}

const [layers, hidden, heads, kvHeads, headDim, intermediate, backend] = process.argv.slice(2);
if (layers) {
  const t0 = performance.now();
  setLogSink(() => {});
  const model = new Decoder({ hidden: +hidden!, heads: +heads!, kvHeads: +kvHeads!, headDim: +headDim!, intermediate: +intermediate! }, +layers);
  const x = randn([1, +hidden!], { seed: 1 });
  const t1 = performance.now();
  const { fn, source } = loadOrCompile(model, [x], { dynamic: { 0: [0] }, prefix: `decoder${layers}`, backend: backend as "native" });
  const t2 = performance.now();
  fn.call(x);
  const t3 = performance.now();
  process.stdout.write(JSON.stringify({ source, build_model_ms: t1 - t0, ready_ms: t2 - t1, first_forward_ms: t3 - t2, report: fn.manifest.report, counters: counters() }));
}
