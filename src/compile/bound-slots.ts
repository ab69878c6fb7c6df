// The module tensors a compiled function reads, resolved once: one walk of the module tree when bound (and
// again only when the module says its tensors changed: `slotsVersion`, bumped by loadStateDict), checked then
// against what was compiled (names, dtypes, shapes, tied weights). A call reads each slot through its getter
// and compares it with the tensor that was checked — a tensor assigned directly is checked again, never trusted.
import type { Tensor } from "../tensor/index.js";
import type { TraceableModule } from "../trace/index.js";
import { ArgumentError, DTypeError, GuardMismatchError, ShapeError } from "../util/index.js";

export interface SlotSpec {
  readonly name: string;
  /** The compiled program's input for this slot: dtype and static shape (weights never have symbolic dims). */
  readonly dtype: string;
  readonly shape: readonly unknown[];
}

interface Resolved {
  readonly version: number | undefined;
  readonly getters: readonly (() => Tensor)[];
  readonly tensors: Tensor[];
}

/** The version a module reports for its tensor slots (nn's Module does; any other module is walked each call). */
const versionOf = (m: TraceableModule<Tensor>) => (m as { slotsVersion?: number }).slotsVersion;

export class BoundSlots {
  #resolved: Resolved | undefined;

  constructor(
    readonly module: TraceableModule<Tensor>,
    readonly specs: readonly SlotSpec[],
    readonly tied: readonly { readonly name: string; readonly sameAs: string }[],
    readonly context: string,
  ) {}

  /** Appends the slots' current tensors to `inputs`, re-resolving (one module walk) only when something changed. */
  appendTo(inputs: Tensor[]): void {
    let r = this.#resolved;
    const version = versionOf(this.module);
    if (!r || version === undefined || r.version !== version) r = this.#resolve(version);
    for (let i = 0; i < r.getters.length; i++) {
      const t = r.getters[i]!();
      if (t !== r.tensors[i]) {
        this.#check(this.specs[i]!, t);
        r.tensors[i] = t;
      }
      inputs.push(t);
    }
  }

  #resolve(version: number | undefined): Resolved {
    const slots = new Map(this.module.namedTensorSlots().map((s) => [s.name, s]));
    const getters = this.specs.map((spec) => {
      const slot = slots.get(spec.name);
      if (!slot) throw new ArgumentError(this.context, `the bound module has no parameter '${spec.name}'`);
      return slot.get;
    });
    for (const s of this.tied) {
      if (slots.get(s.name)?.get() !== slots.get(s.sameAs)?.get()) throw new GuardMismatchError(`${s.name} is ${s.sameAs}`, "the same tensor (tied)", "a different tensor", this.context);
    }
    const tensors = getters.map((get, i) => {
      const t = get();
      this.#check(this.specs[i]!, t);
      return t;
    });
    this.#resolved = { version, getters, tensors };
    return this.#resolved;
  }

  #check(spec: SlotSpec, t: Tensor): void {
    if (t.dtype !== spec.dtype) throw new DTypeError(`${this.context} parameter '${spec.name}'`, spec.dtype, t.dtype);
    if (t.rank !== spec.shape.length || spec.shape.some((d, a) => d !== t.dims[a])) {
      throw new ShapeError(`${this.context} parameter '${spec.name}'`, `[${spec.shape.join(", ")}]`, t.shape);
    }
  }
}
