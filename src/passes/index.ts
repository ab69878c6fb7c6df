// Public face of src/passes.
export { type Pass, type NodeRewrite, rebuild, copyNode } from "./pass.js";
export { decompose } from "./decompose.js";
export { foldConstants, MAX_FOLDED_ELEMENTS } from "./fold-constants.js";
export { cse } from "./cse.js";
export { dce } from "./dce.js";
export {
  PIPELINES, runPipeline, type PipelineName, type PipelineOptions, type PipelineReport, type PassReport, type PipelineResult,
} from "./pipeline.js";
