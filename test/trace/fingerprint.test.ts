import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import * as kiln from "../../src/index.js";

// A user model file, written to several folders: it takes Kiln as a parameter so it imports nothing.
const MODEL = `export default function make(k) {
  const double = (t) => k.mul(t, 2); // a helper whose text is not in any forward
  return class Scaled extends k.Module {
    constructor() {
      super();
      this.lin = new k.Linear(4, 4, { seed: 1 });
    }
    forward(x) {
      return double(this.lin.forward(x));
    }
  };
}
`;

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Writes `text` to <fresh temp dir>/<folder>/<name> and imports its default export. */
async function load<T>(text: string, folder: string, name: string): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), "kiln-fp-"));
  dirs.push(root);
  const file = join(root, folder, name);
  mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(file, text);
  return ((await import(pathToFileURL(file).href)) as { default: T }).default;
}

async function loadModel(text: string, folder: string): Promise<kiln.Module> {
  const make = await load<(k: typeof kiln) => new () => kiln.Module>(text, folder, "model.mjs");
  return new (make(kiln))();
}

test("the fingerprint hashes file contents, not paths: a moved file keeps it, an edited file changes it", async () => {
  const x = kiln.randn([2, 4], { seed: 3 });
  const here = kiln.trace(await loadModel(MODEL, "a"), [x]);
  const moved = kiln.trace(await loadModel(MODEL, "somewhere/else/entirely"), [x]);
  assert.equal(here.fingerprint, moved.fingerprint);
  // The helper's line is recorded by file basename and line, nothing machine-specific.
  const mul = here.graph.nodes.find((n) => n.op === "mul")!;
  assert.match(mul.source ?? "", /^model\.mjs:2:\d+$/);
  // Same forward text, different helper: only the file's contents can tell them apart.
  const edited = kiln.trace(await loadModel(MODEL.replace("k.mul(t, 2)", "k.mul(t, 3)"), "a"), [x]);
  assert.notEqual(edited.fingerprint, here.fingerprint);
});

test("the fingerprint covers the traced code, not the code that called trace()", async () => {
  const make = await load<(k: typeof kiln) => new () => kiln.Module>(MODEL, "m", "model.mjs");
  const Model = make(kiln);
  const caller = (note: string) => `// ${note}\nexport default (k, Model, x) => k.trace(new Model(), [x]).fingerprint;\n`;
  type Caller = (k: typeof kiln, M: new () => kiln.Module, x: kiln.Tensor) => string;
  const x = kiln.randn([2, 4]);
  const one = (await load<Caller>(caller("one caller"), "c1", "main.mjs"))(kiln, Model, x);
  const two = (await load<Caller>(caller("another caller, different text"), "c2", "main.mjs"))(kiln, Model, x);
  assert.equal(one, two);
  assert.equal(one, kiln.trace(new Model(), [x]).fingerprint);
});
