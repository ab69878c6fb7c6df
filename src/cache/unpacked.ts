// The unpacked bundle format (KILN_AOT_FORMAT=unpacked): the same sections as readable files in a
// folder — manifest.json, graph.json, kernels/program.c, … — with their checksums (and the bundle's
// signature, when it was signed) in sections.json. It loads by being packed back into a bundle in
// memory, so every check of the packed format applies; reading never signs, it only carries the
// stored signature, so editing a file of a signed folder makes it fail the signature check.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative } from "node:path";
import { BundleCorruptError, sha256Hex, trustedStat } from "../util/index.js";
import { type CodecOptions, decodeBundle, encodeBundle } from "./bundle-codec.js";

/** Readable file names of the known sections; others keep their own name. */
const FILE_OF: ReadonlyMap<string, string> = new Map([
  ["manifest", "manifest.json"],
  ["program", "program.json"],
  ["graph", "graph.json"],
  ["kernels", "kernels/loop-ir.json"],
  ["source.js", "kernels/program.js"],
  ["source.c", "kernels/program.c"],
  ["object", "object.node"],
]);

interface SectionFile {
  readonly name: string;
  readonly file: string;
  readonly sha256: string;
}

interface SectionsIndex {
  readonly sections: readonly SectionFile[];
  /** The packed bundle's HMAC, when it was signed. */
  readonly hmac?: string;
}

/** Writes a bundle's sections as a folder (built beside it, then swapped in by renames). */
export function writeUnpacked(bundle: Uint8Array, dir: string, options: CodecOptions): void {
  const { sections, signature } = decodeBundle(bundle, options);
  const tmp = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const index: SectionFile[] = [];
  mkdirSync(tmp, { mode: 0o700 });
  try {
    for (const [name, bytes] of sections) {
      const file = FILE_OF.get(name) ?? name.replace(/[^\w.-]/g, "_");
      mkdirSync(dirname(join(tmp, file)), { recursive: true, mode: 0o700 });
      writeFileSync(join(tmp, file), bytes, { mode: 0o644, flag: "wx" });
      index.push({ name, file, sha256: sha256Hex(bytes) });
    }
    const content: SectionsIndex = { sections: index, ...(signature !== undefined ? { hmac: signature } : {}) };
    writeFileSync(join(tmp, "sections.json"), JSON.stringify(content, null, 2), { mode: 0o644, flag: "wx" });
    const old = `${tmp}.old`;
    try {
      renameSync(dir, old);
    } catch {
      // nothing there yet
    }
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function isSectionFile(s: unknown): s is SectionFile {
  const x = s as SectionFile;
  return !!x && typeof x === "object" && typeof x.name === "string" && typeof x.file === "string" && typeof x.sha256 === "string";
}

/** Reads an unpacked folder back into bundle bytes, checking every file against sections.json. */
export function readUnpacked(dir: string, options: Omit<CodecOptions, "signingKey" | "signature">): Uint8Array {
  const corrupt = (section: string, why: string) => new BundleCorruptError(dir, section, why);
  const indexFile = join(dir, "sections.json");
  if (!trustedStat(indexFile, "file")) throw corrupt("sections.json", "missing");
  let index: SectionsIndex;
  try {
    index = JSON.parse(readFileSync(indexFile, "utf8"));
  } catch (e) {
    throw corrupt("sections.json", `not valid JSON (${(e as Error).message})`);
  }
  if (!index || typeof index !== "object" || !Array.isArray(index.sections) || !index.sections.every(isSectionFile)) {
    throw corrupt("sections.json", "malformed (expected {sections: [{name, file, sha256}], hmac?})");
  }
  if (index.hmac !== undefined && typeof index.hmac !== "string") throw corrupt("sections.json", "malformed hmac");
  const sections = new Map<string, Uint8Array>();
  for (const s of index.sections) {
    const path = join(dir, s.file);
    const rel = relative(dir, path);
    if (!rel || rel.startsWith("..") || isAbsolute(rel)) throw corrupt(s.name, `file ${s.file} lies outside the folder`);
    if (!trustedStat(path, "file")) throw corrupt(s.name, `file ${s.file} missing`);
    const bytes = readFileSync(path);
    if (sha256Hex(bytes) !== s.sha256) throw corrupt(s.name, `${s.file} does not match its checksum`);
    sections.set(s.name, bytes);
  }
  return encodeBundle(sections, { ...options, ...(index.hmac !== undefined ? { signature: index.hmac } : {}) });
}
