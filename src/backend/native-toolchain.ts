// Whether a native toolchain exists, and the compiler's identity, without spawning it on every
// start: the probe's answer is cached by the binary's path, size and mtime (builds: native/native-builder.ts).
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { CompilerNotFoundError, KilnError, canonicalJson, ensurePrivateDir, readEnv, resolveCacheRoot, sha256Hex, trustedStat, writeFileAtomic } from "../util/index.js";
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
  /** Where the probe's answer is kept (the cache's objects folder), if anywhere. */
  readonly buildDir: string | undefined;
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

const isCompiler = (c: unknown): c is Compiler =>
  !!c && typeof c === "object" && typeof (c as Compiler).path === "string" && typeof (c as Compiler).version === "string" && typeof (c as Compiler).target === "string";

/** A kept probe answer, if present, well-formed and matching its own checksum (anything else: probe again). */
function readProbe(file: string): Compiler | undefined {
  try {
    if (!trustedStat(file, "file")) return undefined;
    const kept = JSON.parse(readFileSync(file, "utf8")) as { compiler?: unknown; sha256?: unknown };
    if (isCompiler(kept.compiler) && kept.sha256 === sha256Hex(canonicalJson(kept.compiler)) && existsSync(kept.compiler.path)) return kept.compiler;
  } catch {
    // unreadable, untrusted or damaged: probe again
  }
  return undefined;
}

/**
 * Probing runs the compiler twice (~10 ms), which a warm start cannot afford; the answer is
 * kept beside the built objects, keyed by the binary's resolved path, size and mtime.
 */
function probe(cc: string, cacheDir: string | undefined): Compiler | undefined {
  const bin = resolveOnPath(cc);
  if (!bin) return undefined;
  const st = statSync(realpathSync(bin));
  const stamp = `${realpathSync(bin)}|${st.size}|${st.mtimeMs}`;
  const file = cacheDir && join(cacheDir, `compiler-${sha256Hex(`${cc}|${stamp}`).slice(0, 16)}.json`);
  const kept = file && readProbe(file);
  if (kept) return kept;
  const found = probeNow(cc);
  if (found && file) {
    try {
      writeFileAtomic(file, JSON.stringify({ compiler: found, sha256: sha256Hex(canonicalJson(found)) }));
    } catch {
      // an unwritable folder only costs the next start a probe
    }
  }
  return found;
}

/** The cache's objects folder for the probe's answer; none when the cache is off or not ours. */
function probeDir(): string | undefined {
  const env = readEnv();
  const root = env.disableCompileCache || !env.useAotCompile ? undefined : resolveCacheRoot();
  if (!root) return undefined;
  try {
    return ensurePrivateDir(root, join(root, "objects"));
  } catch {
    return undefined; // unwritable or untrusted: probe each time
  }
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
  const key = `${env.cc ?? ""}|${resolveCacheRoot() ?? ""}|${env.disableCompileCache}|${env.useAotCompile}`;
  if (!cached || cached.key !== key) {
    try {
      const buildDir = probeDir();
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
