// Weights mapped rather than read: a tiny native helper (built once into the cache's objects,
// like any kernel object) mmaps a file copy-on-write and hands it to JS as an external
// ArrayBuffer, so a warm start pays for no 1 GB copy — pages come in as the first forward
// touches them. Without a compiler or a cache folder, files are read as before.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NativeBuilder, hasToolchain, mapperSource } from "../backend/index.js";
import { resolveCacheRoot, writeFileAtomic } from "../cache/index.js";
import { readEnv, sha256Hex } from "../util/index.js";
import { type ByteSource, readFileBytes } from "./safetensors.js";

const MAPPER_C = mapperSource();

let mapper: ((path: string) => ArrayBuffer | undefined) | null | undefined;

/**
 * The helper's object under a name of its own, keyed by its source and platform only (it uses
 * no CPU feature, and N-API is ABI-stable): a warm start finds it without probing the compiler.
 */
function mapperObject(root: string): string | undefined {
  const stable = join(root, "objects", `file-map-${sha256Hex(`${MAPPER_C}|${process.platform}|${process.arch}`).slice(0, 16)}.node`);
  if (existsSync(stable)) return stable;
  if (readEnv().backend === "js" || !hasToolchain()) return undefined;
  const built = new NativeBuilder({ dir: join(root, "objects"), target: "portable" }).buildSync(MAPPER_C);
  writeFileAtomic(stable, readFileSync(built.path));
  return stable;
}

function loadMapper(): ((path: string) => ArrayBuffer | undefined) | null {
  if (mapper !== undefined) return mapper;
  mapper = null;
  try {
    const root = resolveCacheRoot();
    const object = root && mapperObject(root);
    if (!object) return mapper;
    const mod = { exports: {} as { mapFile?: (path: string) => ArrayBuffer | undefined } };
    process.dlopen(mod, object);
    mapper = mod.exports.mapFile ?? null;
  } catch {
    mapper = null; // reading works everywhere; mapping is only faster
  }
  return mapper;
}

/** Maps `path` when the platform allows, else reads it (same bytes either way). */
export const mapFileBytes: ByteSource = (path) => {
  const ab = loadMapper()?.(path);
  return ab ? new Uint8Array(ab) : readFileBytes(path);
};
