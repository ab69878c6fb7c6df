// Shape checks of a bundle's JSON sections. Checksums say the bytes are the ones written; these say the
// content is what this Kiln reads, so a malformed manifest or program is a BundleCorruptError (log,
// recompile, replace) and never a TypeError deep in loading.
import { BundleCorruptError } from "../util/index.js";

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isDim = (v: unknown) => isInt(v) || (isObject(v) && Array.isArray(v.sym));
const isShape = (v: unknown) => Array.isArray(v) && v.every(isDim);
const arrayOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);
const isStrings = (v: unknown) => arrayOf(v, isString);

function isTreeSpec(v: unknown, depth = 0): boolean {
  if (!isObject(v) || depth > 64) return false;
  if (v.kind === "leaf") return true;
  if (v.kind === "array") return arrayOf(v.items, (x) => isTreeSpec(x, depth + 1));
  return v.kind === "object" && isStrings(v.keys) && arrayOf(v.items, (x) => isTreeSpec(x, depth + 1));
}

const isArg = (a: unknown) =>
  isObject(a) && isString(a.name) && ((a.kind === "tensor" && isString(a.dtype) && isShape(a.shape)) || a.kind === "value");
const isSlot = (s: unknown) => isObject(s) && isString(s.name) && isString(s.kind);
const isSymbol = (s: unknown) => isObject(s) && isString(s.name) && isInt(s.min) && isInt(s.max) && isInt(s.hint);

/** Parses a JSON section, naming the section when it is not JSON or not an object. */
export function parseSection(bytes: Uint8Array | undefined, path: string, section: string): Json {
  if (!bytes) throw new BundleCorruptError(path, section, "section missing");
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw new BundleCorruptError(path, section, `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(value)) throw new BundleCorruptError(path, section, "not a JSON object");
  return value;
}

function require(ok: boolean, path: string, section: string, field: string): void {
  if (!ok) throw new BundleCorruptError(path, section, `field '${field}' is missing or malformed`);
}

/** Checks every manifest field that loading reads. */
export function checkManifestShape(m: Json, path: string): void {
  const need = (ok: boolean, field: string) => require(ok, path, "manifest", field);
  need(isString(m.kiln_version), "kiln_version");
  need(isInt(m.format_version), "format_version");
  need(isString(m.prefix), "prefix");
  need(isString(m.key), "key");
  need(m.backend === "native" || m.backend === "js", "backend");
  need(isString(m.graph_hash), "graph_hash");
  need(isObject(m.report), "report");
  need(arrayOf(m.args, isArg), "args");
  need(arrayOf(m.slots, isSlot), "slots");
  need(m.tied_slots === undefined || arrayOf(m.tied_slots, (s) => isSlot(s) && isString((s as Json).sameAs)), "tied_slots");
  need(isTreeSpec(m.output_spec), "output_spec");
  need(arrayOf(m.symbols, isSymbol), "symbols");
  need(m.variants === undefined || arrayOf(m.variants, (v) => isObject(v) && isInt(v.size) && (v.size as number) > 0 && arrayOf(v.args, isArg) && arrayOf(v.symbols, isSymbol)), "variants");
  const f = m.factors;
  need(isObject(f), "factors");
  const factors = f as Json;
  for (const k of ["os", "arch", "node_abi", "compiler_code"]) need(isString(factors[k]), `factors.${k}`);
  need(isStrings(factors.cpu_features), "factors.cpu_features");
}

/** Checks every program field that building the executable reads. */
export function checkProgramShape(p: Json, path: string, section = "program"): void {
  const need = (ok: boolean, field: string) => require(ok, path, section, field);
  need(p.format === 1, "format");
  need(arrayOf(p.symbols, isSymbol), "symbols");
  need(arrayOf(p.inputs, (i) => isObject(i) && isString(i.name) && isString(i.dtype) && isShape(i.shape)), "inputs");
  need(arrayOf(p.outputs, (o) => isObject(o) && isInt(o.buf) && isShape(o.shape)), "outputs");
  need(
    arrayOf(p.buffers, (b) => isObject(b) && isInt(b.id) && isString(b.kind) && isString(b.dtype) && isDim(b.size) && (b.values === undefined || Array.isArray(b.values))),
    "buffers",
  );
  const plan = p.plan as Json;
  need(isObject(plan) && arrayOf(plan.slots, (s) => isObject(s) && isString(s.dtype) && isShape(s.sizes)) && isObject(plan.slotOf), "plan");
  need(p.c === undefined || (isObject(p.c) && isStrings(p.c.symbols)), "c");
  need(isObject(p.report), "report");
}
