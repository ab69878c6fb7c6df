// What the tracer needs of a module (nn/ implements it): its tensors as swappable slots and its source.

export type SlotKind = "param" | "buffer";

/** A place holding one of a module's tensors, which the tracer swaps for a tracer and back. */
export interface TensorSlot<T> {
  readonly name: string;
  readonly kind: SlotKind;
  get(): T;
  set(value: T): void;
}

export interface TraceableModule<T> {
  forward(...args: never[]): unknown;
  /** Every parameter and buffer in the module tree, by dotted path, in a stable order. */
  namedTensorSlots(): TensorSlot<T>[];
  /** The source text of every forward in the tree (for the fingerprint). */
  sourceTexts(): string[];
}

export function isTraceableModule(x: unknown): x is TraceableModule<unknown> {
  return !!x && typeof (x as TraceableModule<unknown>).namedTensorSlots === "function" && typeof (x as TraceableModule<unknown>).forward === "function";
}
