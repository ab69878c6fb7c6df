// Child process for aot.test.ts: loads a bundle, runs it, prints outputs and work counters.
// (Does nothing when node --test imports it without arguments.)
import { readFileSync } from "node:fs";
import { counters, loadCompiledFunction, randn, type Tensor } from "../../src/index.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";

const [bundlePath, seed, tokens] = process.argv.slice(2);
if (bundlePath) {
  const block = new DecoderBlock(TINY_BLOCK, Number(seed));
  const f = loadCompiledFunction(readFileSync(bundlePath), { module: block, path: bundlePath });
  const y = f.call(randn([Number(tokens), TINY_BLOCK.hidden], { seed: 99 })) as Tensor;
  process.stdout.write(JSON.stringify({ values: Array.from(y.values()), counters: counters(), backend: f.manifest.backend }));
}
