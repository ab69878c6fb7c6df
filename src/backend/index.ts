// Public face of src/backend.
export { loadJsProgram, type Executable } from "./js-backend.js";
export { JS_RUNTIME } from "./js-runtime.js";
