// TracerTensor: the stand-in a traced function computes on; reading its data is an error
// (data-dependent control flow cannot be captured), reported at the user's line.
import { SymbolicTensor } from "../graph/index.js";
import { TraceError } from "../util/index.js";
import { userFrame } from "./user-frame.js";

export class TracerTensor extends SymbolicTensor {
  protected override requireConcrete(what: string): never {
    throw new TraceError(
      `${what} reads the value of a traced tensor (${this.dtype}[${this.shape.map(String).join(",")}]): ` +
        `control flow or numbers that depend on tensor data cannot be traced; use ops such as where() instead`,
      userFrame()?.line,
    );
  }
}
