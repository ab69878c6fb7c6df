// The native runtime's C files (src/backend/native/csrc): where they are, their text read once, their combined sha256.
//
// tsc does not copy .c/.h files into dist/, so compiled code (dist/src/backend/native/) finds them under the package
// root's src/backend/native/csrc, which package.json's "files" ships; code run from src/ (tsx) finds them beside it.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { RuntimeSourcesNotFoundError, sha256Hex } from "../../util/index.js";

const CSRC = join("src", "backend", "native", "csrc");
const MARKER = "kiln_runtime.h";

let dir: string | undefined;

/** The csrc folder: beside this module, else `<package root>/src/backend/native/csrc` of an enclosing folder. */
export function runtimeSourceDir(): string {
  if (dir) return dir;
  const here = dirname(fileURLToPath(import.meta.url));
  const tried = [join(here, "csrc")];
  for (let d = here; dirname(d) !== d; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) tried.push(join(d, CSRC));
  }
  dir = tried.find((d) => existsSync(join(d, MARKER)));
  if (!dir) throw new RuntimeSourcesNotFoundError(tried);
  return dir;
}

export interface RuntimeFile {
  readonly name: string;
  readonly text: string;
}

let files: readonly RuntimeFile[] | undefined;
let hash: string | undefined;

/** Every file of the csrc folder, sorted by name, read once per process. */
export function runtimeFiles(): readonly RuntimeFile[] {
  if (!files) {
    const d = runtimeSourceDir();
    files = readdirSync(d)
      .filter((name) => /\.(c|h|inc)$/.test(name))
      .sort()
      .map((name) => ({ name, text: readFileSync(join(d, name), "utf8") }));
  }
  return files;
}

/** sha256 over the names and contents of all runtime files: any change to any of them changes it. */
export function runtimeSourcesHash(): string {
  hash ??= sha256Hex(runtimeFiles().map((f) => `${f.name}\0${sha256Hex(f.text)}`).join("\n"));
  return hash;
}

/** The text of one runtime file. */
export function runtimeFile(name: string): string {
  const f = runtimeFiles().find((x) => x.name === name);
  if (!f) throw new RuntimeSourcesNotFoundError([join(runtimeSourceDir(), name)]);
  return f.text;
}

/** The weights mapper's C source (csrc/file_map.c), a complete N-API module of its own. */
export function mapperSource(): string {
  return runtimeFile("file_map.c");
}
