// The JS backend: turns a Program's emitted JavaScript into its entry point.
import type { Program } from "../codegen/index.js";
import { JS_RUNTIME } from "./js-runtime.js";
import { type Executable, type ProgramEntry, createExecutable } from "./program-runner.js";

export function loadJsProgram(program: Program): Executable {
  return createExecutable(program, new Function("rt", program.js.source)(JS_RUNTIME) as ProgramEntry);
}
