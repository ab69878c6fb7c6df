// Module: like torch.nn.Module — parameters, buffers and submodules found from its own fields.
import { Tensor, shapeToString } from "../tensor/index.js";
import type { TensorSlot, TraceableModule } from "../trace/index.js";
import { ArgumentError, DTypeError, ShapeError } from "../util/index.js";
import { Parameter } from "./parameter.js";

export interface LoadOptions {
  /** Missing or unexpected names are errors (default true). */
  readonly strict?: boolean;
}

export abstract class Module implements TraceableModule<Tensor> {
  readonly #buffers = new Set<string>();

  abstract forward(...args: never[]): unknown;

  /** Registers field `name` as a buffer: a non-weight tensor the forward reads (e.g. a RoPE table). */
  protected registerBuffer<T extends Tensor>(name: string, t: T): T {
    this.#buffers.add(name);
    (this as unknown as Record<string, unknown>)[name] = t;
    return t;
  }

  /** Every parameter/buffer slot in the tree, by dotted path, in field order. */
  namedTensorSlots(prefix = ""): TensorSlot<Tensor>[] {
    const out: TensorSlot<Tensor>[] = [];
    const self = this as unknown as Record<string, unknown>;
    const visit = (owner: Record<string | number, unknown>, key: string | number, path: string, isBuffer: boolean) => {
      const v = owner[key];
      if (v instanceof Parameter || (isBuffer && v instanceof Tensor)) {
        out.push({ name: path, kind: v instanceof Parameter ? "param" : "buffer", get: () => owner[key] as Tensor, set: (t) => (owner[key] = t) });
      } else if (v instanceof Module) {
        out.push(...v.namedTensorSlots(`${path}.`));
      } else if (Array.isArray(v)) {
        v.forEach((_, i) => visit(v as unknown as Record<number, unknown>, i, `${path}.${i}`, false));
      }
    };
    for (const key of Object.keys(self)) visit(self, key, `${prefix}${key}`, this.#buffers.has(key));
    return out;
  }

  namedParameters(): [string, Tensor][] {
    return this.namedTensorSlots().filter((s) => s.kind === "param").map((s) => [s.name, s.get()]);
  }
  namedBuffers(): [string, Tensor][] {
    return this.namedTensorSlots().filter((s) => s.kind === "buffer").map((s) => [s.name, s.get()]);
  }
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ""), this]];
    const walk = (v: unknown, path: string) => {
      if (v instanceof Module) out.push(...v.namedModules(`${path}.`));
      else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}.${i}`));
    };
    for (const [k, v] of Object.entries(this)) walk(v, `${prefix}${k}`);
    return out;
  }

  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedTensorSlots().map((s) => [s.name, s.get()]));
  }

  /** Replaces parameters/buffers by name; each new tensor must match the old one's shape and dtype. */
  loadStateDict(state: Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>, options: LoadOptions = {}): void {
    const { strict = true } = options;
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const slots = new Map(this.namedTensorSlots().map((s) => [s.name, s]));
    if (strict) {
      const missing = [...slots.keys()].filter((k) => !entries.has(k));
      const unexpected = [...entries.keys()].filter((k) => !slots.has(k));
      if (missing.length || unexpected.length) {
        throw new ArgumentError("loadStateDict", `${missing.length ? `missing: ${missing.join(", ")}` : ""}${missing.length && unexpected.length ? "; " : ""}${unexpected.length ? `unexpected: ${unexpected.join(", ")}` : ""}`);
      }
    }
    for (const [name, t] of entries) {
      const slot = slots.get(name);
      if (!slot) continue;
      const old = slot.get();
      if (!(t instanceof Tensor)) throw new ArgumentError("loadStateDict", `'${name}' is not a Tensor`);
      if (t.dtype !== old.dtype) throw new DTypeError(`loadStateDict '${name}'`, old.dtype, t.dtype);
      if (shapeToString(t.shape) !== shapeToString(old.shape)) throw new ShapeError(`loadStateDict '${name}'`, shapeToString(old.shape), t.shape);
      slot.set(slot.kind === "param" ? new Parameter(t) : t);
    }
  }

  /** Source text of every forward in the tree, for the trace fingerprint. */
  sourceTexts(): string[] {
    const texts = new Set<string>();
    for (const [, m] of this.namedModules()) {
      for (let p = Object.getPrototypeOf(m); p && p !== Module.prototype; p = Object.getPrototypeOf(p)) {
        if (Object.prototype.hasOwnProperty.call(p, "forward")) texts.add(`${p.constructor.name}:${Function.prototype.toString.call(p.forward)}`);
      }
    }
    return [...texts].sort();
  }
}
