// Non-tensor arguments are specialised: the trace bakes their value in and a guard checks it on
// every call. Only values that can be compared exactly qualify.
import { Tensor } from "../tensor/index.js";
import { ArgumentError } from "../util/index.js";

/** Throws unless `value` is a number, string, boolean, null or undefined, or an array / plain object of such values. */
export function checkSpecialisable(value: unknown, where: string, fnName: string): void {
  const open = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    if (v === null || v === undefined) return;
    switch (typeof v) {
      case "number":
      case "string":
      case "boolean":
        return;
      case "object":
        if (open.has(v)) throw new ArgumentError(fnName, `${where} refers to itself at ${path}; it cannot be specialised`);
        if (v instanceof Tensor) {
          throw new ArgumentError(fnName, `${where} holds a Tensor at ${path}; pass each tensor as its own argument (tensors inside arrays or objects would be baked into the graph)`);
        }
        if (Array.isArray(v) || Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
          open.add(v);
          if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
          else for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
          open.delete(v);
          return;
        }
        throw new ArgumentError(fnName, `${where} is a ${v.constructor?.name ?? "object"} at ${path}; a traced function takes tensors and plain values (numbers, strings, booleans, arrays and plain objects of them)`);
      default:
        throw new ArgumentError(fnName, `${where} is a ${typeof v} at ${path}; it cannot be specialised (pass tensors and plain values only)`);
    }
  };
  walk(value, "the top");
}

/** Exact equality of specialised values: Object.is on primitives (NaN equals NaN, 0 differs from -0), structural on arrays and objects. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || a instanceof Tensor || b instanceof Tensor) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => sameValue(x, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A short text of a value for guard messages. */
export function describeValue(v: unknown): string {
  if (v instanceof Tensor) return `a Tensor ${v.dtype}[${v.shape.map(String).join(",")}]`;
  if (v === undefined) return "undefined";
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "function") return `a function`;
  try {
    const text = JSON.stringify(v) ?? String(v);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return typeof v;
  }
}
