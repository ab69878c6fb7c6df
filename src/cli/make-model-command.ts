// `kiln make-model`: a Hugging Face model folder for a preset, with seeded random weights and the real tokenizer.
import { PRESETS, PRESET_DTYPES, getPreset, makeModel, type PresetDType } from "../models/index.js";
import { ArgumentError } from "../util/index.js";

export interface MakeModelCommandOptions {
  readonly preset: string;
  readonly dtype: string;
  readonly out: string;
  readonly seed: string;
  readonly force?: boolean;
}

/** Weights at least this big report their progress. */
const PROGRESS_BYTES = 256 * 1024 * 1024;
const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

export function runMakeModel(o: MakeModelCommandOptions, out: (s: string) => void, err: (s: string) => void): void {
  const preset = getPreset(o.preset);
  if (!Object.hasOwn(PRESET_DTYPES, o.dtype)) throw new ArgumentError("--dtype", `expected ${Object.keys(PRESET_DTYPES).join(" or ")}, got '${o.dtype}'`);
  if (!/^\d+$/.test(o.seed)) throw new ArgumentError("--seed", `expected a non-negative integer, got '${o.seed}'`);
  const t0 = performance.now();
  let shown = 0;
  const made = makeModel({
    preset, out: o.out, dtype: o.dtype as PresetDType, seed: Number(o.seed), force: o.force,
    onProgress: (done, total) => {
      if (total < PROGRESS_BYTES) return;
      const pct = Math.floor((done / total) * 10) * 10;
      if (pct > shown || done === total) {
        shown = pct;
        err(`kiln: make-model: weights ${pct}% (${mb(done)} of ${mb(total)})`);
      }
    },
  });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  out(`wrote ${made.dir}: ${preset.name} (${(made.parameters / 1e6).toFixed(1)}M parameters, ${o.dtype}, seed ${o.seed}) in ${secs} s`);
}

