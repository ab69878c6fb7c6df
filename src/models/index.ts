// Public face of src/models: Hugging Face checkpoints (safetensors, config.json) for Llama and Qwen3.
export {
  readSafetensors, decodeSafetensors, parseSafetensorsHeader, readFileBytes, SAFETENSORS_DTYPES, MAX_HEADER_BYTES,
  type SafetensorsEntry, type SafetensorsHeader, type SafetensorsFile, type ByteSource,
} from "./safetensors.js";
export {
  writeSafetensors, encodeSafetensors, writeShardedSafetensors, writeSafetensorsFromSources, SAFETENSORS_DTYPE_NAMES,
  type TensorDict, type TensorSource, type TensorSourceDict, type WriteSafetensorsOptions, type WriteShardedOptions,
} from "./safetensors-write.js";
export {
  parseHfConfig, readHfConfig, ConfigFieldError, CONFIG_LIMITS, ARCHITECTURES, MODEL_TYPES, HIDDEN_ACTS,
  type Architecture, type HiddenAct, type ModelConfig, type RopeScaling, type Llama3RopeScaling,
} from "./hf-config.js";
export {
  loadCheckpoint, loadShardedSafetensors, parseSafetensorsIndex, expectedTensors, expectedTensorNames, expectedTensorCount, checkTensors,
  CONFIG_FILE, SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE,
  type Checkpoint, type LoadCheckpointOptions, type SafetensorsIndex,
} from "./checkpoint.js";
export { CausalLM, ropeInverseFrequencies, pagedDynamicDims, PAGED_INPUTS } from "./causal-lm.js";
export { mapFileBytes } from "./file-map.js";
export {
  loadTokenizer, Tokenizer, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, GENERATION_CONFIG_FILE, CHAT_TEMPLATE_FILE,
  type EncodeOptions, type DecodeOptions, type ChatOptions,
} from "./tokenizer.js";
export { StreamDecoder, type DecodeFn } from "./stream-decoder.js";
export { renderChat, type ChatMessage, type RenderChatOptions } from "./chat-template.js";
export { bundledTokenizerDir, BUNDLED_TOKENIZERS, type BundledTokenizer } from "./bundled-tokenizers.js";
export {
  PRESETS, PRESET_NAMES, PRESET_DTYPES, getPreset, presetConfig,
  type ModelPreset, type PresetName, type PresetDType,
} from "./presets.js";
export { randomWeights, INIT_STD } from "./random-weights.js";
export { makeModel, FolderNotEmptyError, type MakeModelOptions, type MadeModel } from "./make-model.js";
export { MAX_JSON_DEPTH } from "./json-file.js";
