// Public face of src/server: `kiln serve`, an OpenAI-compatible HTTP server over the engine.
export { KilnServer, EngineFailedError, ListenError, type ServeOptions } from "./http-server.js";
export { ApiError } from "./api-error.js";
export type { EngineSpec, EngineInfo, EngineModule, LoadPhase, StepScheduler } from "./engine-protocol.js";
