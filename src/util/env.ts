// The one reader of KILN_* environment variables, with their defaults (see ARCHITECTURE.md).
import { homedir } from "node:os";
import { join } from "node:path";
import { ArgumentError } from "./errors.js";
import { bump } from "./counters.js";

export type Backend = "native" | "js";

export interface KilnEnv {
  cacheDir: string | undefined;
  useAotCompile: boolean;
  forceAotLoad: boolean;
  disableCompileCache: boolean;
  aotVerify: boolean;
  aotFormat: "bundle" | "unpacked";
  backend: Backend | "auto";
  cc: string | undefined;
  numThreads: number | undefined;
  /** KILN_PROFILE=1: native programs time each kernel and print a per-kernel table at exit. */
  profile: boolean;
  log: ReadonlySet<string>;
  signingKey: string | undefined;
  allowInsecureCache: boolean;
  /** KILN_CACHE_REMOTE: the fleet cache's stores (comma-separated URLs), parsed by src/cache/remote-store.ts. */
  cacheRemote: string | undefined;
  /** KILN_CACHE_SIGN_KEY: an Ed25519 private key (PEM file) signing what this process publishes to the fleet cache. */
  cacheSignKey: string | undefined;
  /** KILN_CACHE_TRUSTED_KEYS: Ed25519 public keys (PEM files, comma-separated); fleet entries must be signed by one. */
  cacheTrustedKeys: string | undefined;
  /** Tests only: narrow the CPU's features to these (comma list), to simulate a lesser host; never widens. */
  cpuFeatures: readonly string[] | undefined;
}

function flag(name: string, fallback: boolean): boolean {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  if (["1", "true", "yes", "on"].includes(v.toLowerCase())) return true;
  if (["0", "false", "no", "off"].includes(v.toLowerCase())) return false;
  throw new ArgumentError("env", `${name}=${v} is not a boolean (use 1 or 0)`);
}

function choice<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new ArgumentError("env", `${name}=${v} is not one of ${allowed.join(", ")}`);
}

/** The most threads native kernels run on (the runtime's pool size): KILN_NUM_THREADS and --threads are 1..MAX_THREADS. */
export const MAX_THREADS = 256;

/** Reads the variables now (not at import), so tests can change process.env between calls. */
export function readEnv(): KilnEnv {
  bump("envReads");
  const threads = process.env.KILN_NUM_THREADS;
  let numThreads: number | undefined;
  if (threads !== undefined && threads !== "") {
    numThreads = Number(threads);
    if (!Number.isInteger(numThreads) || numThreads < 1 || numThreads > MAX_THREADS) {
      throw new ArgumentError("env", `KILN_NUM_THREADS=${threads} is not an integer from 1 to ${MAX_THREADS}`);
    }
  }
  return {
    cacheDir: process.env.KILN_CACHE_DIR || undefined,
    useAotCompile: flag("KILN_USE_AOT_COMPILE", true),
    forceAotLoad: flag("KILN_FORCE_AOT_LOAD", false),
    disableCompileCache: flag("KILN_DISABLE_COMPILE_CACHE", false),
    aotVerify: flag("KILN_AOT_VERIFY", false),
    aotFormat: choice("KILN_AOT_FORMAT", ["bundle", "unpacked"] as const, "bundle"),
    backend: choice("KILN_BACKEND", ["native", "js", "auto"] as const, "auto"),
    cc: process.env.KILN_CC || undefined,
    numThreads,
    profile: flag("KILN_PROFILE", false),
    log: new Set((process.env.KILN_LOG ?? "").split(",").filter(Boolean)),
    signingKey: signingKey(process.env.KILN_CACHE_SIGNING_KEY),
    allowInsecureCache: flag("KILN_CACHE_ALLOW_INSECURE", false),
    cacheRemote: process.env.KILN_CACHE_REMOTE || undefined,
    cacheSignKey: process.env.KILN_CACHE_SIGN_KEY || undefined,
    cacheTrustedKeys: process.env.KILN_CACHE_TRUSTED_KEYS || undefined,
    cpuFeatures: featureList(process.env.KILN_CPU_FEATURES),
  };
}

/** A comma list of CPU feature names, items trimmed and lower-cased; empty or blank means unset. */
function featureList(text: string | undefined): string[] | undefined {
  const items = (text ?? "").split(",").map((f) => f.trim().toLowerCase()).filter(Boolean);
  return items.length ? items : undefined;
}

/**
 * The cache root: KILN_CACHE_DIR, else ~/.cache/kiln; undefined when neither can be known
 * (HOME unset), in which case callers compile in memory.
 */
export function resolveCacheRoot(): string | undefined {
  const dir = process.env.KILN_CACHE_DIR;
  if (dir) return dir;
  const home = process.env.HOME || safeHomedir();
  return home ? join(home, ".cache", "kiln") : undefined;
}

function safeHomedir(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

/** A signing key short enough to guess protects nothing: at least 32 characters. */
function signingKey(key: string | undefined): string | undefined {
  if (!key) return undefined;
  if (key.length < 32) throw new ArgumentError("env", `KILN_CACHE_SIGNING_KEY is ${key.length} characters; use at least 32 (e.g. openssl rand -hex 32)`);
  return key;
}
