import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ArgumentError, Graph, type GraphJSON, KilnError, arange, cast, expand, full, graphFromJSON, graphToJSON, mul, mulberry32, reshape, slice,
  sym, tensor, add,
} from "../../src/index.js";
import { assertRoundTrip, assertSameValues, buildGraph } from "./graph-kit.js";

/** A graph with symbolic dims in attributes (reshape, slice, full, arange, expand), odd numbers and sources. */
function symbolicAttrGraph(): Graph {
  let line = 0;
  return buildGraph(
    [{ name: "x", shape: ["s0", 6] }, { name: "ids", shape: ["s1"], dtype: "i32", kind: "buffer" }],
    (x, ids) => {
      const s0 = x.shape[0]!;
      const y = reshape(x, [s0, 2, 3]); // symbolic dims in the reshape target
      const z = slice(reshape(y, [-1, 3]), 0, 1, s0); // symbolic end
      const f = full([s0, 3], -Infinity); // symbolic shape and a non-finite value
      const r = cast(arange(ids.shape[0]!), "f32"); // symbolic arange end
      const e = expand(reshape(r, [1, ids.shape[0]!]), [2, ids.shape[0]!]); // symbolic expand target
      const c = mul(z, tensor([-0, NaN, 0.1], { dtype: "f32" }));
      return [add(c, slice(f, 0, 1, null)), e, mul(cast(ids, "f32"), r)];
    },
    { source: () => `model.ts:${++line}:3` },
  );
}

test("JSON round trip is exact: symbolic dims in attrs and types, sources, symbols, -0 and NaN", () => {
  const g = symbolicAttrGraph();
  const back = assertRoundTrip(g);
  assert.match(g.toString(), /reshape\(%0, shape=\[s0, 2, 3\]\)/);
  assert.match(g.toString(), /slice\(%\d+, axis=0, end=s0, start=1, step=1\)/);
  assert.match(g.toString(), /full\(dtype="f32", shape=\[s0, 3\], value=-inf\)/);
  assert.match(g.toString(), /arange\(dtype="i32", end=s1, start=0, step=1\)/);
  assert.match(g.toString(), /values=\[-0, nan, 0.10000000149011612\]/);
  assert.match(back.nodes[3]!.source!, /^model\.ts:\d+:3$/);
  assert.equal(new Set(back.nodes.map((n) => n.source)).size, back.nodes.length);
  assert.deepEqual(back.symbols, [{ name: "s0", min: 1, max: 4096, hint: 7 }, { name: "s1", min: 1, max: 4096, hint: 7 }]);
  // The decoded graph computes what the original does.
  assertSameValues(g, back, [{ s0: 2, s1: 5 }, { s0: 9, s1: 1 }]);
  // The functional forms agree with the methods.
  assert.deepEqual(graphToJSON(g), g.toJSON());
  assert.equal(graphFromJSON(g.toJSON()).toString(), g.toString());
});

/** A JSON copy that tests may mutate freely. */
const mutable = (g: Graph): { format: number; symbols: any[]; nodes: any[]; outputs: any[] } => JSON.parse(JSON.stringify(g.toJSON()));

test("malformed graph JSON gives ArgumentErrors naming what is wrong", () => {
  const g = symbolicAttrGraph();
  const cases: [string, (j: ReturnType<typeof mutable>) => unknown, RegExp][] = [
    ["not an object", () => "graph", /not a graph in JSON format 1/],
    ["wrong format", (j) => ({ ...j, format: 2 }), /not a graph in JSON format 1/],
    ["missing nodes", (j) => ({ ...j, nodes: undefined }), /must be arrays/],
    ["unknown op", (j) => (j.nodes[2].op = "frobnicate", j), /node 2: unknown op "frobnicate"/],
    ["forward reference", (j) => (j.nodes[2].inputs = [5], j), /node 2 \(reshape\): bad input reference 5/],
    ["self reference", (j) => (j.nodes[2].inputs = [2], j), /bad input reference 2/],
    ["negative reference", (j) => (j.nodes[2].inputs = [-1], j), /bad input reference -1/],
    ["fractional reference", (j) => (j.nodes[2].inputs = [0.5], j), /bad input reference 0.5/],
    ["wrong arity", (j) => (j.nodes[2].inputs = [0, 0], j), /node 2 \(reshape\): 2 inputs, the op takes 1/],
    ["stored dtype differs", (j) => (j.nodes[2].type.dtype = "bf16", j), /stored type bf16\[s0,2,3\] does not match its shape rule's f32\[s0,2,3\]/],
    ["stored shape differs", (j) => (j.nodes[2].type.shape[1] = 3, j), /does not match its shape rule/],
    ["unknown dtype", (j) => (j.nodes[2].type.dtype = "f8", j), /type must be \{dtype, shape\} with a known dtype/],
    ["malformed dim", (j) => (j.nodes[2].type.shape[1] = "2", j), /node 2 \(reshape\) type dim 1: malformed dim "2"/],
    ["malformed symbol name", (j) => (j.nodes[0].type.shape[0] = { sym: [[1, ["s 0"]]] }, j), /malformed dim/],
    ["fractional coefficient", (j) => (j.nodes[0].type.shape[0] = { sym: [[0.5, ["s0"]]] }, j), /malformed dim/],
    ["malformed attribute", (j) => (j.nodes[2].attrs.shape = [{ foo: 1 }], j), /attribute shape: malformed attribute value/],
    ["unknown special number", (j) => (j.nodes[2].attrs.shape = [{ num: "1" }], j), /malformed attribute value/],
    ["shape rule rejects the attrs", (j) => (delete j.nodes[2].attrs.shape, j), /node 2 \(reshape\): its shape rule rejects it: reshape: expected shape as an array of dims/],
    ["attrs not an object", (j) => (j.nodes[2].attrs = [1], j), /attrs must be an object/],
    ["undeclared symbol", (j) => (j.symbols = j.symbols.slice(1), j), /node 0 \(input\): symbol s0 is not declared/],
    ["duplicate symbol", (j) => (j.symbols.push(j.symbols[0]), j), /symbol s0 is declared twice/],
    ["symbol range", (j) => (j.symbols[0].min = 9, j.symbols[0].max = 3, j), /symbol s0: min 9 > max 3/],
    ["symbol bound", (j) => (j.symbols[0].max = 1.5, j), /symbol s0: max must be a non-negative integer/],
    ["duplicate input name", (j) => (j.nodes[1].attrs.name = "x", j), /duplicate input name "x"/],
    ["bad input kind", (j) => (j.nodes[1].attrs.kind = "weight", j), /kind of arg\|param\|buffer/],
    ["source not a string", (j) => (j.nodes[2].source = 3, j), /source must be a string/],
    ["bad output", (j) => (j.outputs = [999], j), /bad output reference 999/],
  ];
  for (const [what, mutate, message] of cases) {
    assert.throws(
      () => Graph.fromJSON(mutate(mutable(g))),
      (e: unknown) => e instanceof ArgumentError && message.test(e.message),
      what,
    );
  }
  // The unmutated copy decodes.
  Graph.fromJSON(mutable(g)).verify();
});

test("random corruption of graph JSON decodes to a valid graph or throws a KilnError, nothing else", () => {
  const g = symbolicAttrGraph();
  const rand = mulberry32(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const junk = [null, 0, -1, 1.5, 1e9, "x", "", true, [], {}, [1], { sym: [] }, { num: "NaN" }, { sym: [[1, ["s9"]]] }, 10n, undefined];
  let decoded = 0;
  let rejected = 0;
  for (let trial = 0; trial < 400; trial++) {
    const j = mutable(g);
    // Walk to a random container inside the JSON and overwrite, delete or duplicate one entry.
    let at: any = j;
    for (let depth = 0; depth < 1 + Math.floor(rand() * 5); depth++) {
      const keys = Object.keys(at);
      const next = keys.length ? at[pick(keys)] : undefined;
      if (next === null || typeof next !== "object") break;
      at = next;
    }
    const keys = Object.keys(at);
    if (keys.length === 0) continue;
    const k = pick(keys);
    const roll = rand();
    if (roll < 0.6) at[k] = pick(junk);
    else if (roll < 0.8) delete at[k];
    else at[k] = structuredClone(at[pick(keys)]);
    try {
      const back = Graph.fromJSON(j);
      back.verify();
      assert.equal(Graph.fromJSON(JSON.parse(JSON.stringify(back.toJSON()))).toString(), back.toString());
      decoded++;
    } catch (e) {
      assert.ok(e instanceof KilnError, `trial ${trial}: ${(e as Error)?.stack}`);
      rejected++;
    }
  }
  assert.ok(rejected > 100, `only ${rejected} corruptions were rejected`);
  assert.ok(decoded > 0, "some corruptions (a duplicated symbol hint, say) are still valid graphs");
});

test("GraphJSON is plain data: it survives JSON.stringify with no loss", () => {
  const g = buildGraph([{ name: "x", shape: ["s0"] }], (x) => mul(x, full([sym("s0")], 2)));
  const j: GraphJSON = g.toJSON();
  assert.deepEqual(JSON.parse(JSON.stringify(j)), j);
  assert.equal(j.format, 1);
  assert.deepEqual(j.nodes[0]!.type.shape, [{ sym: [[1, ["s0"]]] }]);
});
