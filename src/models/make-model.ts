// `kiln make-model`: writes a Hugging Face model folder for a preset (config.json, generation_config.json, the
// real tokenizer files, and model.safetensors with seeded random weights), loadable by loadCheckpoint.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../cache/index.js";
import { ArgumentError } from "../util/index.js";
import { bundledTokenizerDir } from "./bundled-tokenizers.js";
import { CONFIG_FILE, SAFETENSORS_FILE } from "./checkpoint.js";
import { parseHfConfig } from "./hf-config.js";
import { type ModelPreset, type PresetDType, getPreset, presetConfig, sortKeys } from "./presets.js";
import { randomWeights } from "./random-weights.js";
import { writeSafetensorsFromSources } from "./safetensors-write.js";
import { GENERATION_CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./tokenizer.js";

/** The output folder holds files and overwriting was not asked for. */
export class FolderNotEmptyError extends ArgumentError {
  constructor(readonly path: string) {
    super("make-model", `${path} is not empty (pass --force to write into it anyway)`);
  }
}

export interface MakeModelOptions {
  readonly preset: string | ModelPreset;
  readonly out: string;
  /** Weight dtype (default bf16, as the real checkpoints). */
  readonly dtype?: PresetDType;
  /** Seeds the weights only: config and tokenizer files are the same for every seed. Default 0. */
  readonly seed?: number;
  /** Write into a non-empty folder, replacing the files make-model writes. */
  readonly force?: boolean;
  /** Called as weight bytes are written (`done` of `total`). */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface MadeModel {
  readonly dir: string;
  /** Absolute paths of the files written. */
  readonly files: readonly string[];
  readonly parameters: number;
  readonly weightBytes: number;
}

const json = (o: unknown) => JSON.stringify(o, null, 2) + "\n";

/** Writes a preset's model folder; see MakeModelOptions. */
export function makeModel(options: MakeModelOptions): MadeModel {
  const preset = typeof options.preset === "string" ? getPreset(options.preset) : options.preset;
  const dtype = options.dtype ?? "bf16";
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentError("--seed", `expected an integer in [0, 2^32), got ${seed}`);
  const dir = resolve(options.out);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new ArgumentError("make-model", `${dir} exists and is not a folder`);
    if (readdirSync(dir).length > 0 && !options.force) throw new FolderNotEmptyError(dir);
  }
  mkdirSync(dir, { recursive: true });

  const configJson = presetConfig(preset, dtype);
  const config = parseHfConfig(configJson, join(dir, CONFIG_FILE));
  const files = [CONFIG_FILE, GENERATION_CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, SAFETENSORS_FILE].map((f) => join(dir, f));
  writeFileAtomic(files[0]!, json(configJson));
  writeFileAtomic(files[1]!, json(sortKeys(preset.generationConfig)));
  const tokDir = bundledTokenizerDir(preset.tokenizer);
  copyFileSync(join(tokDir, TOKENIZER_FILE), files[2]!);
  copyFileSync(join(tokDir, TOKENIZER_CONFIG_FILE), files[3]!);

  const sources = randomWeights(config, dtype, seed);
  let parameters = 0;
  for (const s of sources.values()) parameters += s.shape.reduce((a, d) => a * d, 1);
  const weightBytes = parameters * (dtype === "bf16" ? 2 : 4);
  let done = 0;
  const progress = options.onProgress;
  const counted = progress === undefined ? sources : new Map([...sources].map(([name, s]) => [name, {
    ...s,
    *chunks() {
      for (const c of s.chunks()) {
        yield c;
        done += c.length;
        progress(done, weightBytes);
      }
    },
  }]));
  writeSafetensorsFromSources(files[4]!, counted, { metadata: { format: "pt" } });
  return { dir, files, parameters, weightBytes };
}
