// Output structures: a tensor, an array of them or a plain object of them, flattened and rebuilt.
import { Tensor } from "../tensor/index.js";
import { TraceError } from "../util/index.js";

export type TreeSpec = { kind: "leaf" } | { kind: "array"; items: TreeSpec[] } | { kind: "object"; keys: string[]; items: TreeSpec[] };

export function flattenTree(value: unknown, out: Tensor[] = []): { leaves: Tensor[]; spec: TreeSpec } {
  const walk = (v: unknown): TreeSpec => {
    if (v instanceof Tensor) {
      out.push(v);
      return { kind: "leaf" };
    }
    if (Array.isArray(v)) return { kind: "array", items: v.map(walk) };
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      const keys = Object.keys(v);
      return { kind: "object", keys, items: keys.map((k) => walk((v as Record<string, unknown>)[k])) };
    }
    throw new TraceError(`a traced function must return tensors (alone, in arrays or in plain objects), got ${v === null ? "null" : typeof v}`);
  };
  const spec = walk(value);
  return { leaves: out, spec };
}

export function unflattenTree(spec: TreeSpec, leaves: readonly Tensor[]): unknown {
  let i = 0;
  const build = (s: TreeSpec): unknown => {
    switch (s.kind) {
      case "leaf":
        return leaves[i++];
      case "array":
        return s.items.map(build);
      case "object":
        return Object.fromEntries(s.keys.map((k, j) => [k, build(s.items[j]!)]));
      default:
        return s satisfies never;
    }
  };
  return build(spec);
}
