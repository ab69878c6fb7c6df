// Module: like torch.nn.Module — parameters, buffers and submodules found from its own fields.
import { Tensor, shapeToString } from "../tensor/index.js";
import type { TensorSlot, TraceableModule } from "../trace/index.js";
import { ArgumentError, DTypeError, ShapeError, bump } from "../util/index.js";
import { Parameter } from "./parameter.js";

export interface LoadOptions {
  /** Missing or unexpected names are errors (default true). */
  readonly strict?: boolean;
}

interface Visitor {
  slot(owner: Record<string | number, unknown>, key: string | number, path: string, kind: "param" | "buffer"): void;
  module?(path: string, m: Module): void;
}

export abstract class Module implements TraceableModule<Tensor> {
  readonly #buffers = new Set<string>();
  #slotsVersion = 0;

  /**
   * Bumped whenever Kiln changes this module's tensors (loadStateDict, registerBuffer), so a compiled function
   * re-resolves its weight slots then and only then (assigning a tensor directly is caught per call as well).
   */
  get slotsVersion(): number {
    return this.#slotsVersion;
  }

  abstract forward(...args: never[]): unknown;

  /** Registers field `name` as a buffer: a non-weight tensor the forward reads (e.g. a RoPE table). */
  protected registerBuffer<T extends Tensor>(name: string, t: T): T {
    this.#buffers.add(name);
    this.#slotsVersion++;
    (this as unknown as Record<string, unknown>)[name] = t;
    return t;
  }

  /**
   * Every parameter/buffer slot in the tree, by dotted path, in field order. Fields holding
   * modules, parameters, or arrays / plain objects of them are walked; a module shared by two
   * fields appears under both paths (its tensors are then tied), a reference back to an
   * enclosing module is skipped.
   */
  namedTensorSlots(prefix = ""): TensorSlot<Tensor>[] {
    bump("moduleWalks");
    const out: TensorSlot<Tensor>[] = [];
    this.#walk(prefix, new Set(), {
      slot: (owner, key, path, kind) => out.push({ name: path, kind, get: () => owner[key] as Tensor, set: (t) => (owner[key] = t) }),
    });
    return out;
  }

  /** Visits this module's fields (see namedTensorSlots); `enclosing` holds the modules being walked. */
  #walk(prefix: string, enclosing: Set<Module>, visit: Visitor): void {
    enclosing.add(this);
    const self = this as unknown as Record<string, unknown>;
    const walkValue = (owner: Record<string | number, unknown>, key: string | number, path: string, isBuffer: boolean): void => {
      const v = owner[key];
      if (v instanceof Parameter || (isBuffer && v instanceof Tensor)) {
        visit.slot(owner, key, path, v instanceof Parameter ? "param" : "buffer");
      } else if (v instanceof Module) {
        if (enclosing.has(v)) return;
        visit.module?.(path, v);
        v.#walk(`${path}.`, enclosing, visit);
      } else if (Array.isArray(v)) {
        v.forEach((_, i) => walkValue(v as unknown as Record<number, unknown>, i, `${path}.${i}`, false));
      } else if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
        for (const k of Object.keys(v)) walkValue(v as Record<string, unknown>, k, `${path}.${k}`, false);
      }
    };
    for (const key of Object.keys(self)) walkValue(self, key, `${prefix}${key}`, this.#buffers.has(key));
    enclosing.delete(this);
  }

  /** Parameters by dotted path; a tensor reachable by several paths (tied weights) is listed once, like torch. */
  namedParameters(): [string, Tensor][] {
    return this.#distinct("param");
  }
  namedBuffers(): [string, Tensor][] {
    return this.#distinct("buffer");
  }
  #distinct(kind: "param" | "buffer"): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const s of this.namedTensorSlots()) {
      const t = s.get();
      if (s.kind !== kind || seen.has(t)) continue;
      seen.add(t);
      out.push([s.name, t]);
    }
    return out;
  }
  /** This module ("") and every submodule, by dotted path; a module reachable by several paths is listed once. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [["", this]];
    const seen = new Set<Module>([this]);
    this.#walk("", new Set(), {
      slot: () => {},
      module: (path, m) => {
        if (!seen.has(m)) out.push([path, m]);
        seen.add(m);
      },
    });
    return out;
  }

  stateDict(): Record<string, Tensor> {
    return Object.fromEntries(this.namedTensorSlots().map((s) => [s.name, s.get()]));
  }

  /**
   * Replaces parameters/buffers by name; each new tensor must match the old one's shape and
   * dtype. As torch's in-place copy, loading one of several tied names updates all of them.
   */
  loadStateDict(state: Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>, options: LoadOptions = {}): void {
    const { strict = true } = options;
    const entries: ReadonlyMap<string, unknown> = state instanceof Map ? state : new Map(Object.entries(state));
    const slots = this.namedTensorSlots();
    const byName = new Map(slots.map((s) => [s.name, s]));
    if (strict) {
      const missing = slots.filter((s) => !entries.has(s.name)).map((s) => s.name);
      const unexpected = [...entries.keys()].filter((k) => !byName.has(k));
      if (missing.length || unexpected.length) {
        const parts = [missing.length ? `missing: ${missing.join(", ")}` : "", unexpected.length ? `unexpected: ${unexpected.join(", ")}` : ""];
        throw new ArgumentError("loadStateDict", parts.filter(Boolean).join("; "));
      }
    }
    // Check everything before changing anything, so a failed load leaves the module as it was.
    const old = new Map(slots.map((s) => [s.name, s.get()]));
    for (const [name, t] of entries) {
      const before = old.get(name);
      if (!before) continue;
      if (!(t instanceof Tensor) || !t.isConcrete) throw new ArgumentError("loadStateDict", `'${name}' is not a concrete Tensor`);
      if (t.dtype !== before.dtype) throw new DTypeError(`loadStateDict '${name}'`, before.dtype, t.dtype);
      if (shapeToString(t.shape) !== shapeToString(before.shape)) throw new ShapeError(`loadStateDict '${name}'`, shapeToString(before.shape), t.shape);
    }
    const tiedTo = new Map<Tensor, TensorSlot<Tensor>[]>();
    for (const s of slots) {
      const t = old.get(s.name)!;
      const group = tiedTo.get(t);
      if (group) group.push(s);
      else tiedTo.set(t, [s]);
    }
    for (const [name, t] of entries) {
      const before = old.get(name);
      if (!before) continue;
      const asParam = t instanceof Parameter ? t : new Parameter(t as Tensor);
      for (const s of tiedTo.get(before)!) s.set(s.kind === "param" ? asParam : (t as Tensor));
    }
    this.#slotsVersion++;
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
