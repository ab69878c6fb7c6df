// The JS backend: compiles a Program's emitted JavaScript (kernel functions and the wrapper, as
// one function body of the runtime helpers) with `new Function` and wraps it as an Executable.
import type { Program } from "../codegen/index.js";
import { JS_RUNTIME } from "./js-runtime.js";
import { type Executable, type ProgramEntry, createExecutable } from "./program-runner.js";

export function loadJsProgram(program: Program): Executable {
  const entry = new Function("rt", program.js.source)(JS_RUNTIME) as ProgramEntry;
  return createExecutable(program, entry);
}
