// Public face of src/passes.
export { type Pass, rebuild, copyNode } from "./pass.js";
export { decompose } from "./decompose.js";
export { foldConstants } from "./fold-constants.js";
export { cse } from "./cse.js";
export { dce } from "./dce.js";
export { PIPELINES, runPipeline, type PassReport, type PipelineResult } from "./pipeline.js";
