// TracerTensor: the stand-in a traced function computes on; reading its data is an error
// (data-dependent control flow cannot be captured), reported at the user's line.
import { shapeToString } from "../tensor/index.js";
import { SymbolicTensor } from "../graph/index.js";
import { TraceError } from "../util/index.js";
import { userFrame } from "./user-frame.js";

export class TracerTensor extends SymbolicTensor {
  protected override requireConcrete(what: string): never {
    const described = `a traced tensor (${this.dtype}${shapeToString(this.shape)})`;
    if (what === "dims" || what === "size") {
      throw new TraceError(`${what} needs a static shape, but ${described} may have symbolic dims; use .shape, whose entries ops accept as they are`, userFrame()?.line);
    }
    throw new TraceError(
      `${what} reads the value of ${described}: control flow or numbers that depend on tensor data cannot be traced; ` +
        `compute with ops instead (e.g. where() for a data-dependent choice)`,
      userFrame()?.line,
    );
  }

  /** `t > 0`, `+t`, `t * 2` would silently compare or compute on NaN: on a tracer they read data, so they fail loudly. */
  override [Symbol.toPrimitive](hint: string): string {
    if (hint === "string") return `TracerTensor(${this.dtype}${shapeToString(this.shape)})`;
    return this.requireConcrete(`using a tensor as a ${hint === "number" ? "number" : "primitive value"}`);
  }
}
