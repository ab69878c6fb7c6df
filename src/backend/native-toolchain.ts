// Whether a native toolchain exists, and the compiler's identity, without spawning it on every
// start: the probe's answer is cached by the binary's path, size and mtime (builds: native/native-builder.ts).
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { CompilerNotFoundError, KilnError, readEnv, sha256Hex } from "../util/index.js";
import { findCCompiler, findNodeApiInclude } from "./native/c-compiler.js";

export class NodeHeadersNotFoundError extends KilnError {
  readonly code = "E_NODE_HEADERS";
  constructor(readonly tried: readonly string[]) {
    super(`Node's N-API headers (node_api.h) not found (tried ${tried.join(", ")}); install node-api-headers or use KILN_BACKEND=js`);
  }
}

export interface Compiler {
  readonly path: string;
  /** First line of `--version`, e.g. "gcc (Debian 12.2.0-14) 12.2.0". */
  readonly version: string;
  /** `-dumpmachine`, e.g. "x86_64-linux-gnu". */
  readonly target: string;
}

export interface Toolchain {
  readonly compiler: Compiler;
  readonly includeDir: string;
  /** Where the probe's answer is kept (beside built objects). */
  readonly buildDir: string;
}

let cached: { key: string; value: Toolchain | KilnError } | undefined;

/** The compiler's file on PATH (or as given), for a cheap identity check by size and mtime. */
function resolveOnPath(cc: string): string | undefined {
  if (cc.includes("/")) return existsSync(cc) ? cc : undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const p = join(dir, cc);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Probing runs the compiler twice (~10 ms), which a warm start cannot afford; the answer is
 * kept beside the built objects, keyed by the binary's resolved path, size and mtime.
 */
function probe(cc: string, cacheDir: string): Compiler | undefined {
  const bin = resolveOnPath(cc);
  if (!bin) return undefined;
  const st = statSync(realpathSync(bin));
  const stamp = `${realpathSync(bin)}|${st.size}|${st.mtimeMs}`;
  const file = join(cacheDir, `compiler-${sha256Hex(`${cc}|${stamp}`).slice(0, 16)}.json`);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Compiler;
  } catch {
    // not probed yet
  }
  const found = probeNow(cc);
  if (found) {
    try {
      writeFileSync(file, JSON.stringify(found));
    } catch {
      // an unwritable folder only costs the next start a probe
    }
  }
  return found;
}

/** The slow path: run the compiler (c-compiler.ts), keeping what the key and the manifest need. */
function probeNow(cc: string): Compiler | undefined {
  try {
    const c = findCCompiler(cc);
    return { path: c.path, version: c.identity, target: c.triple };
  } catch (e) {
    if (e instanceof CompilerNotFoundError) return undefined;
    throw e;
  }
}

function findHeaders(): string {
  try {
    return findNodeApiInclude();
  } catch (e) {
    if (e instanceof CompilerNotFoundError) throw new NodeHeadersNotFoundError(e.tried);
    throw e;
  }
}

/** The toolchain for this process (cached per KILN_CC); throws CompilerNotFoundError / NodeHeadersNotFoundError. */
export function getToolchain(): Toolchain {
  const env = readEnv();
  const key = `${env.cc ?? ""}|${env.cacheDir ?? ""}`;
  if (!cached || cached.key !== key) {
    try {
      // Objects live in the cache folder when one is named, so an empty cache means a real cold start.
      const buildDir = env.cacheDir ? join(env.cacheDir, "objects") : join(tmpdir(), `kiln-build-${process.getuid?.() ?? "user"}`);
      try {
        mkdirSync(buildDir, { recursive: true, mode: 0o700 });
      } catch {
        // probed again next time; building reports its own error
      }
      const candidates = env.cc ? [env.cc] : ["cc", "gcc", "clang"];
      let compiler: Compiler | undefined;
      for (const c of candidates) if ((compiler = probe(c, buildDir))) break;
      if (!compiler) throw new CompilerNotFoundError(candidates);
      cached = {
        key,
        value: { compiler, includeDir: findHeaders(), buildDir },
      };
    } catch (e) {
      if (!(e instanceof KilnError)) throw e;
      cached = { key, value: e };
    }
  }
  if (cached.value instanceof KilnError) throw cached.value;
  return cached.value;
}

/** Whether a native toolchain is usable here (no throw). */
export function hasToolchain(): boolean {
  try {
    getToolchain();
    return true;
  } catch (e) {
    if (e instanceof KilnError) return false;
    throw e;
  }
}
