// The C emitter's table of runtime functions (codegen/c-entry-points.ts) against the header that declares them
// (csrc/kiln_runtime.h): the same functions, with the same return and parameter types, in the same order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runtimeFile } from "../../src/backend/native/index.js";
import { C_ENTRY_POINTS, type CEntryPoint, cCall } from "../../src/codegen/index.js";

/** `const float *` and `const float*` are one type. */
const normalize = (type: string) => type.replace(/\s+/g, " ").replace(/\s*\*/g, "*").trim();

interface Declared {
  readonly returns: string;
  readonly params: readonly string[];
}

/** Every `KILN_API <type> kiln_…(…);` function declaration of a header, by name. */
function declaredFunctions(header: string): Map<string, Declared> {
  const code = header.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/.*$/gm, " ");
  const out = new Map<string, Declared>();
  for (const m of code.matchAll(/KILN_API\s+([\w\s*]+?)\s*\b(kiln_\w+)\s*\(([^)]*)\)\s*;/g)) {
    const params = m[3]!.trim() === "void" ? [] : m[3]!.split(",").map((p) => normalize(p.trim().replace(/\b\w+$/, "")));
    assert.ok(!out.has(m[2]!), `${m[2]} is declared twice`);
    out.set(m[2]!, { returns: normalize(m[1]!), params });
  }
  return out;
}

test("the emitter's table and kiln_runtime.h declare the same functions with the same types", () => {
  const declared = declaredFunctions(runtimeFile("kiln_runtime.h"));
  assert.ok(declared.size >= 20, `parsed ${declared.size} declarations`);
  const table: readonly CEntryPoint[] = Object.values(C_ENTRY_POINTS);
  assert.deepEqual(table.map((e) => e.name).sort(), [...declared.keys()].sort(), "the same function names");
  for (const e of table) {
    const d = declared.get(e.name)!;
    assert.equal(normalize(e.returns), d.returns, `${e.name}: return type`);
    assert.deepEqual(e.params.map(([type]) => normalize(type)), d.params, `${e.name}: parameter types`);
  }
});

test("the header parser sees a changed parameter type (the check can fail)", () => {
  const header = runtimeFile("kiln_runtime.h");
  const changed = header.replace("KILN_API void* kiln_scratch(size_t bytes);", "KILN_API void* kiln_scratch(int64_t bytes);");
  assert.notEqual(changed, header, "the declaration to change is in the header");
  assert.deepEqual(declaredFunctions(changed).get("kiln_scratch")!.params, ["int64_t"]);
});

test("cCall writes a call with one argument per parameter; tsc rejects a wrong count", () => {
  assert.equal(cCall(C_ENTRY_POINTS.scratch, ["64"]), "kiln_scratch(64)");
  // @ts-expect-error: kiln_scratch takes one argument
  assert.equal(cCall(C_ENTRY_POINTS.scratch, ["64", "1"]), "kiln_scratch(64, 1)");
});
