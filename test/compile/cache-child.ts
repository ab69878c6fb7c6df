// Child process for cache.test.ts: runs a supportsCompile model once and prints what happened.
// (Does nothing when node --test imports it without arguments.)
import { counters, randn, setLogSink, supportsCompile, type Tensor, type CompileActivity } from "../../src/index.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";

const [eps, seed] = process.argv.slice(2);
if (eps) {
  const logs: string[] = [];
  setLogSink((l) => logs.push(l));
  class Block extends DecoderBlock {
    readonly config = { ...TINY_BLOCK, eps: Number(eps) };
    constructor() {
      super({ ...TINY_BLOCK, eps: Number(eps) }, Number(seed));
    }
  }
  const Model = supportsCompile(Block, { dynamicArgDims: { 0: [0] }, prefix: "block", backend: (process.env.TEST_BACKEND as "js" | "native" | "auto" | undefined) ?? "js" });
  const model = new Model();
  let out: unknown;
  try {
    const y = model.forward(randn([6, TINY_BLOCK.hidden], { seed: 5 })) as Tensor;
    const z = model.forward(randn([2, TINY_BLOCK.hidden], { seed: 6 })) as Tensor;
    out = { values: [...Array.from(y.values()), ...Array.from(z.values())] };
  } catch (e) {
    out = { error: (e as Error).name, message: (e as Error).message };
  }
  const activity = (model as unknown as { compileActivity: CompileActivity }).compileActivity;
  process.stdout.write(JSON.stringify({ ...(out as object), counters: counters(), activity, logs }));
}
