// The unpacked bundle format (KILN_AOT_FORMAT=unpacked): the same sections as readable files in a
// folder — manifest.json, graph.json, kernels/program.c, … — with their checksums in sections.json.
// It loads by being packed back into a bundle in memory, so every check of the packed format applies.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BundleCorruptError, sha256Hex } from "../util/index.js";
import { type CodecOptions, decodeBundle, encodeBundle } from "./bundle-codec.js";

/** Readable file names of the known sections; others keep their own name. */
const FILE_OF: Readonly<Record<string, string>> = {
  manifest: "manifest.json",
  program: "program.json",
  graph: "graph.json",
  kernels: "kernels/loop-ir.json",
  "source.js": "kernels/program.js",
  "source.c": "kernels/program.c",
  object: "object.node",
};

interface SectionFile {
  readonly name: string;
  readonly file: string;
  readonly sha256: string;
}

/** Writes a bundle's sections as a folder (replacing it whole: built beside it, then renamed). */
export function writeUnpacked(bundle: Uint8Array, dir: string, options: CodecOptions): void {
  const { sections } = decodeBundle(bundle, options);
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const index: SectionFile[] = [];
  for (const [name, bytes] of sections) {
    const file = FILE_OF[name] ?? name.replace(/[^\w.-]/g, "_");
    mkdirSync(dirname(join(tmp, file)), { recursive: true });
    writeFileSync(join(tmp, file), bytes);
    index.push({ name, file, sha256: sha256Hex(bytes) });
  }
  writeFileSync(join(tmp, "sections.json"), JSON.stringify({ sections: index }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** Reads an unpacked folder back into bundle bytes, checking every file against sections.json. */
export function readUnpacked(dir: string, options: CodecOptions): Uint8Array {
  const indexFile = join(dir, "sections.json");
  if (!existsSync(indexFile)) throw new BundleCorruptError(dir, "sections.json", "missing");
  let index: { sections: SectionFile[] };
  try {
    index = JSON.parse(readFileSync(indexFile, "utf8"));
  } catch (e) {
    throw new BundleCorruptError(dir, "sections.json", `not valid JSON (${(e as Error).message})`);
  }
  const sections = new Map<string, Uint8Array>();
  for (const s of index.sections ?? []) {
    const path = join(dir, s.file);
    if (!path.startsWith(dir) || !existsSync(path)) throw new BundleCorruptError(dir, s.name, `file ${s.file} missing`);
    const bytes = readFileSync(path);
    if (sha256Hex(bytes) !== s.sha256) throw new BundleCorruptError(dir, s.name, `${s.file} does not match its checksum`);
    sections.set(s.name, bytes);
  }
  return encodeBundle(sections, options);
}
