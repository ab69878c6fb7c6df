// Seeded random weights for a config, initialised as transformers does (normal(0, 0.02) matrices, norms = 1),
// produced chunk by chunk so a checkpoint bigger than memory can be written.
import { f32ArrayToBf16, mulberry32 } from "../tensor/index.js";
import { expectedTensors } from "./checkpoint.js";
import type { ModelConfig } from "./hf-config.js";
import type { TensorSource } from "./safetensors-write.js";

/** transformers' `initializer_range` default. */
export const INIT_STD = 0.02;
/** Elements per chunk (even, so Box–Muller pairs never straddle chunks). */
const CHUNK = 1 << 21;

/** FNV-1a over the seed and the tensor name: each tensor's stream is independent of the others and their order. */
function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (const c of `${seed}:${name}`) h = Math.imul(h ^ c.codePointAt(0)!, 0x01000193);
  return h >>> 0;
}

function* normalChunks(count: number, seed: number, std: number, dtype: "f32" | "bf16"): Generator<Uint8Array> {
  const rand = mulberry32(seed);
  for (let start = 0; start < count; start += CHUNK) {
    const out = new Float32Array(Math.min(CHUNK, count - start));
    for (let i = 0; i < out.length; i += 2) {
      const r = std * Math.sqrt(-2 * Math.log(1 - rand()));
      const a = 2 * Math.PI * rand();
      out[i] = r * Math.cos(a);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(a);
    }
    const words = dtype === "bf16" ? f32ArrayToBf16(out) : out;
    yield new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
  }
}

function* onesChunks(count: number, dtype: "f32" | "bf16"): Generator<Uint8Array> {
  const words = dtype === "bf16" ? new Uint16Array(count).fill(0x3f80) : new Float32Array(count).fill(1);
  yield new Uint8Array(words.buffer);
}

/**
 * Every tensor `config` needs, as lazy sources: RMSNorm weights 1, biases 0, everything else normal(0, `std`)
 * from a PRNG seeded by (`seed`, tensor name). The same seed gives the same bytes on every machine.
 */
export function randomWeights(config: ModelConfig, dtype: "f32" | "bf16", seed: number, std = INIT_STD): Map<string, TensorSource> {
  const out = new Map<string, TensorSource>();
  for (const [name, shape] of expectedTensors(config)) {
    const count = shape.reduce((a, d) => a * d, 1);
    const chunks = name.endsWith("norm.weight")
      ? () => onesChunks(count, dtype)
      : name.endsWith(".bias")
        ? () => [new Uint8Array(count * (dtype === "bf16" ? 2 : 4))]
        : () => normalChunks(count, tensorSeed(seed, name), std, dtype);
    out.set(name, { dtype, shape, chunks });
  }
  return out;
}
