// findCCompiler(): the C compiler (KILN_CC, else cc, gcc, clang on PATH) with its identity, and Node's N-API headers.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { CompilerNotFoundError, readEnv } from "../../util/index.js";

/** A usable C compiler; `identity`, `version` and `triple` go into every object's key. */
export interface CCompiler {
  /** The command as configured (KILN_CC or the name found on PATH). */
  readonly command: string;
  /** Absolute path with symlinks resolved (/usr/bin/cc → /usr/bin/x86_64-linux-gnu-gcc-12). */
  readonly path: string;
  /** First line of `--version`. */
  readonly identity: string;
  /** Version number, e.g. "12.2.0". */
  readonly version: string;
  /** Target triple from `-dumpmachine`, e.g. "x86_64-linux-gnu". */
  readonly triple: string;
  readonly family: "gcc" | "clang" | "other";
}

const DEFAULT_COMPILERS = ["cc", "gcc", "clang"] as const;
const found = new Map<string, CCompiler | undefined>();

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of a command: as given when it has a slash, else the first match on PATH. */
function resolveCommand(command: string): string | undefined {
  if (command.includes("/")) return isExecutable(command) ? (isAbsolute(command) ? command : join(process.cwd(), command)) : undefined;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

function run(path: string, args: string[]): string | undefined {
  try {
    return execFileSync(path, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

function probe(command: string): CCompiler | undefined {
  const resolved = resolveCommand(command);
  if (!resolved) return undefined;
  const identity = run(resolved, ["--version"])?.split("\n")[0]?.trim();
  if (!identity) return undefined;
  const family = /clang/i.test(identity) ? "clang" : /gcc|g\+\+|free software foundation/i.test(identity) ? "gcc" : "other";
  const dumped = run(resolved, [family === "gcc" ? "-dumpfullversion" : "-dumpversion"]);
  const version = dumped && /^\d+(\.\d+)*$/.test(dumped) ? dumped : (/(\d+\.\d+(\.\d+)?)/.exec(identity)?.[1] ?? "unknown");
  return {
    command,
    path: realpathSync(resolved),
    identity,
    version,
    triple: run(resolved, ["-dumpmachine"]) ?? "unknown",
    family,
  };
}

/**
 * The compiler to use: KILN_CC when set (no fallback: an explicit choice that fails is an error), else the first of
 * cc, gcc, clang that runs. Probed once per process and command. Throws CompilerNotFoundError with what was tried.
 */
export function findCCompiler(command: string | undefined = readEnv().cc): CCompiler {
  const candidates = command ? [command] : [...DEFAULT_COMPILERS];
  for (const c of candidates) {
    if (!found.has(c)) found.set(c, probe(c));
    const compiler = found.get(c);
    if (compiler) return compiler;
  }
  throw new CompilerNotFoundError(candidates);
}

/** Whether findCCompiler() would succeed (tests skip with a reason when it would not). */
export function hasCCompiler(): boolean {
  try {
    findCCompiler();
    return true;
  } catch (e) {
    if (e instanceof CompilerNotFoundError) return false;
    throw e;
  }
}

let nodeInclude: string | undefined;

/**
 * The folder holding node_api.h: beside this Node's binary, the system's, or the `node-api-headers` package.
 * Missing headers make native builds impossible, reported as CompilerNotFoundError naming the places searched.
 */
export function findNodeApiInclude(): string {
  if (nodeInclude) return nodeInclude;
  const tried = [join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"];
  try {
    tried.push(join(dirname(createRequire(import.meta.url).resolve("node-api-headers/package.json")), "include"));
  } catch {
    // the optional package is not installed
  }
  nodeInclude = tried.find((d) => existsSync(join(d, "node_api.h")));
  if (!nodeInclude) throw new CompilerNotFoundError(tried.map((d) => `node_api.h in ${d}`));
  return nodeInclude;
}
