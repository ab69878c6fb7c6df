// Compile sizes: programs specialised for chosen token counts sit beside the general one in one bundle under
// one key; a call takes the program of its exact size, else the general one; results agree with the general
// program and the eager reference; a warm process serves S = 1 from its specialised program, compiling nothing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hasToolchain } from "../../src/backend/index.js";
import { decodeBundle } from "../../src/cache/index.js";
import { KILN_VERSION, aotCompile, loadCompiledFunction } from "../../src/compile/index.js";
import { type Tensor, counters, randn } from "../../src/index.js";
import { ArgumentError } from "../../src/util/index.js";
import { DecoderBlock, TINY_BLOCK } from "../nn/decoder-block.js";
import { assertAllClose } from "../helpers/assert-close.js";

for (const backend of ["js", "native"] as const) {
  test(`${backend}: compileSizes [1, 4] — S = 1, 4, 7 equal the general program and eager; three programs; a warm load uses S = 1's`, { skip: backend === "native" && !hasToolchain() && "no C compiler" }, () => {
    const block = new DecoderBlock(TINY_BLOCK, 3);
    const x = (s: number) => randn([s, TINY_BLOCK.hidden], { seed: 10 + s });
    const dynamic = { 0: [0] };
    const sized = aotCompile(block, [x(3)], { dynamic, compileSizes: [4, 1], backend });
    const general = aotCompile(block, [x(3)], { dynamic, backend });
    for (const s of [1, 4, 7]) {
      const want = (block.forward(x(s)) as Tensor).values();
      assertAllClose((sized(x(s)) as Tensor).values(), want, { rtol: 1e-5, atol: 1e-5 });
      assertAllClose((sized(x(s)) as Tensor).values(), (general(x(s)) as Tensor).values(), { rtol: 1e-5, atol: 1e-5 });
    }
    assert.deepEqual(sized.callsBySize(), { "1": 2, "4": 2, general: 2 });
    assert.deepEqual(sized.manifest.variants!.map((v) => v.size), [1, 4]);

    const bytes = sized.serialize();
    const names = [...decodeBundle(bytes, { kilnVersion: KILN_VERSION }).sections.keys()];
    assert.deepEqual(names.filter((n) => n.startsWith("program")).sort(), ["program", "program@1", "program@4"]);
    if (backend === "native") assert.deepEqual(names.filter((n) => n.startsWith("object")).sort(), ["object", "object@1", "object@4"]);

    const before = counters();
    const warm = loadCompiledFunction(bytes, { module: block });
    for (let step = 0; step < 5; step++) warm(x(1));
    const after = counters();
    assert.equal(after.specialisedCalls - before.specialisedCalls, 5, "decode steps ran the S = 1 program");
    assert.equal(after.compilerInvocations, before.compilerInvocations);
    assert.equal(after.traces, before.traces);
    assert.deepEqual(warm.callsBySize(), { "1": 5, "4": 0, general: 0 });
    assertAllClose((warm(x(1)) as Tensor).values(), (block.forward(x(1)) as Tensor).values(), { rtol: 1e-5, atol: 1e-5 });
  });
}

test("compileSizes must be positive integers within the token count's range", () => {
  const block = new DecoderBlock(TINY_BLOCK, 3);
  const x = randn([3, TINY_BLOCK.hidden]);
  assert.throws(() => aotCompile(block, [x], { dynamic: { 0: [0] }, compileSizes: [0], backend: "js" }), ArgumentError);
  assert.throws(() => aotCompile(block, [x], { dynamic: { 0: { 0: { max: 8 } } }, compileSizes: [9], backend: "js" }), /outside/);
  assert.throws(() => aotCompile(block, [x], { compileSizes: [2], backend: "js" }), /no dynamic dim/);
});
