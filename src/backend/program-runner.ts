// Runs a Program through any backend's entry point: binds symbols from input shapes, lays
// buffers out per the memory plan (slots reused while sizes are unchanged), wraps outputs.
import { type Dim, type Storage, Tensor, allocStorage, dimFromJSON, encodeValues, evalDim, isSym } from "../tensor/index.js";
import type { Program } from "../codegen/index.js";
import { ArgumentError, DTypeError, ShapeError } from "../util/index.js";

export interface Executable {
  /**
   * Runs the program. `env` (the symbol values the caller's guards already bound and checked, with every input's
   * dtype and shape) skips binding them again; without it, symbols are bound and every input checked here.
   */
  run(inputs: readonly Tensor[], env?: Readonly<Record<string, number>>, options?: RunOptions): Tensor[];
  readonly kernelCount: number;
  /** Sets the threads its kernels use (native code; the JS backend has one). */
  setThreads?(n: number): void;
}

export interface RunOptions {
  /**
   * Write outputs into the previous call's output memory when sizes match: the caller consumes the results before
   * its next call (an engine reading logits), and the process stops paying a fresh zeroed allocation per call.
   */
  readonly reuseOutputs?: boolean;
}

/** A backend's entry: runs every kernel over the buffers, given the symbol values. */
export type ProgramEntry = (buffers: Storage[], symbols: Record<string, number>) => void;

export function createExecutable(program: Program, run: ProgramEntry): Executable {
  const inputShapes = program.inputs.map((i) => i.shape.map(dimFromJSON));
  const outputShapes = program.outputs.map((o) => o.shape.map(dimFromJSON));
  const sizes = program.buffers.map((b) => dimFromJSON(b.size));
  const slotSizes = program.plan.slots.map((s) => s.sizes.map(dimFromJSON));
  const constants = new Map(program.buffers.filter((b) => b.kind === "const").map((b) => [b.id, encodeValues(b.dtype, b.values!.map(Number))]));
  // Temp slots are sized by the symbol values; a slot is kept while it is large enough (kernels read and write only
  // the elements the symbols give them), so a decode whose context grows never reallocates — nor feeds the garbage
  // collector — per step. Sizes are recomputed only when a symbol value changes.
  const symbolNames = program.symbols.map((s) => s.name);
  let cachedValues: number[] | undefined;
  const cachedSlots: Storage[] = [];
  const lastOutputs = new Map<number, Storage>();
  const sameValues = (env: Readonly<Record<string, number>>) => cachedValues !== undefined && symbolNames.every((n, i) => env[n] === cachedValues![i]);

  const bindSymbols = (inputs: readonly Tensor[]): Record<string, number> => {
    if (inputs.length !== program.inputs.length) {
      throw new ArgumentError("compiled program", `expected ${program.inputs.length} inputs (${program.inputs.map((i) => i.name).join(", ")}), got ${inputs.length}`);
    }
    const env: Record<string, number> = {};
    program.inputs.forEach((spec, i) => {
      const t = inputs[i]!;
      if (t.dtype !== spec.dtype) throw new DTypeError(`input '${spec.name}'`, spec.dtype, t.dtype);
      const shape = inputShapes[i]!;
      if (t.rank !== shape.length) throw new ShapeError(`input '${spec.name}'`, `rank ${shape.length}`, t.shape);
      shape.forEach((d: Dim, a) => {
        if (isSym(d) && env[String(d)] === undefined && d.symbols().length === 1 && String(d) === d.symbols()[0]) env[String(d)] = t.dims[a]!;
        else if (evalDim(d, env) !== t.dims[a]) throw new ShapeError(`input '${spec.name}'`, `dim ${a} = ${String(d)}`, t.dims);
      });
    });
    return env;
  };

  return {
    kernelCount: program.report.kernels,
    run(inputs, checked, options) {
      const env = checked ?? bindSymbols(inputs);
      if (!sameValues(env)) {
        program.plan.slots.forEach((s, i) => {
          const n = Math.max(0, ...slotSizes[i]!.map((d) => evalDim(d, env)));
          if (!(cachedSlots[i] && cachedSlots[i]!.length >= n)) cachedSlots[i] = allocStorage(s.dtype, n);
        });
        cachedValues = symbolNames.map((n) => env[n]!);
      }
      const buffers: Storage[] = program.buffers.map((b) => {
        switch (b.kind) {
          case "input": {
            const t = inputs[b.inputIndex!]!;
            return t.isContiguous() && t.offset === 0 ? t.storage : t.contiguous().storage;
          }
          case "const":
            return constants.get(b.id)!;
          case "temp":
            return cachedSlots[program.plan.slotOf[b.id]!]!;
          case "output": {
            const n = evalDim(sizes[b.id]!, env);
            const last = lastOutputs.get(b.id);
            if (options?.reuseOutputs && last && last.length === n) return last;
            const fresh = allocStorage(b.dtype, n);
            if (options?.reuseOutputs) lastOutputs.set(b.id, fresh); // kept only for a caller that lets it be reused
            return fresh;
          }
          default:
            return b.kind satisfies never;
        }
      });
      run(buffers, env);
      return program.outputs.map((o, i) => {
        const b = program.buffers[o.buf]!;
        const shape = outputShapes[i]!.map((d) => evalDim(d, env));
        // Inputs and constants returned as outputs are copied: a result never aliases memory the caller or a later call owns.
        const storage = buffers[o.buf]!;
        const own = b.kind === "output" ? storage : storage.slice(0, evalDim(sizes[b.id]!, env));
        return new Tensor(b.dtype, shape, own);
      });
    },
  };
}
