// Weights mapped rather than read: a tiny native helper (built once into the cache's verified objects
// store, like any kernel object, and loaded only as verified bytes) mmaps a file copy-on-write and hands it to JS as an external
// ArrayBuffer, so a warm start pays for no 1 GB copy — pages come in as the first forward
// touches them. Without a compiler or a cache folder, files are read as before.
import { hostname } from "node:os";
import { NativeBuilder, ObjectStore, type VerifiedObject, hasToolchain, loadAddon, mapperSource } from "../backend/index.js";
import { type RemoteStore, parseRemotes, publish, readThrough, signingKeyOf, trustedKeysOf } from "../cache/index.js";
import { KILN_VERSION } from "../compile/index.js";
import { type KilnEnv, KilnError, logLine, readEnv, resolveCacheRoot, sha256Hex } from "../util/index.js";
import { type ByteSource, readFileBytes } from "./safetensors.js";


let mapper: ((path: string) => ArrayBuffer | undefined) | null | undefined;

/** The mapper's key in the objects store: its source and platform only (it uses no CPU feature, and N-API is
 * ABI-stable), so a warm start finds it without probing the compiler. */
const mapperKey = (source: string) => `file-map-${sha256Hex(`${source}|${process.platform}|${process.arch}`).slice(0, 32)}`;

/**
 * The mapper's verified bytes from the cache's objects store, built there when absent (never under
 * KILN_FORCE_AOT_LOAD, which forbids compiling). Undefined when the JS backend or a disable switch is set.
 */
function mapperObject(env: KilnEnv): VerifiedObject | undefined {
  if (env.backend === "js" || env.disableCompileCache || !env.useAotCompile) return undefined;
  const root = resolveCacheRoot();
  if (!root) return undefined;
  const source = mapperSource();
  const key = mapperKey(source);
  const store = ObjectStore.inCache(root);
  const stored = store.get(key);
  if (stored) return stored;
  // A replica without a C compiler takes the mapper a fleet publishes (verified as a bundle is: digest, and
  // signature when KILN_CACHE_TRUSTED_KEYS asks for one).
  const stores = parseRemotes(env.cacheRemote);
  const fetched = stores.length ? readThrough(stores, key, trustedKeysOf(env.cacheTrustedKeys)) : undefined;
  if (fetched) return store.put(key, fetched.bytes);
  if (env.forceAotLoad || !hasToolchain()) return undefined;
  // Built in a throwaway store, kept in the cache under its stable key only (one record, the one that is read).
  const built = new NativeBuilder({ target: "portable" }).buildSync(source);
  const object = store.put(key, built.bytes);
  if (stores.length) publishMapper(env, stores, key, built.bytes);
  return object;
}

/** Publishes a freshly built mapper to the fleet, as a compile publishes a bundle (signed when it can be). */
function publishMapper(env: KilnEnv, stores: readonly RemoteStore[], key: string, bytes: Uint8Array): void {
  const signingKey = signingKeyOf(env.cacheSignKey);
  if (trustedKeysOf(env.cacheTrustedKeys) && !signingKey) return; // an unsigned entry would replace a trusted one
  publish(stores, key, bytes, { kiln_version: KILN_VERSION, key, compile_ms: 0, producer: `${hostname()}:${process.pid}`, created_at: new Date().toISOString() }, signingKey);
}

function loadMapper(): ((path: string) => ArrayBuffer | undefined) | null {
  if (mapper !== undefined) return mapper;
  const env = readEnv(); // a bad variable is the user's error to see, not a reason to read instead of map
  mapper = null;
  try {
    const object = mapperObject(env);
    if (object) mapper = loadAddon<{ mapFile?: (path: string) => ArrayBuffer | undefined }>(object).mapFile ?? null;
  } catch (e) {
    // Reading works everywhere; mapping is only faster. Say why it is off, once.
    if (!(e instanceof KilnError)) throw e;
    logLine(`weights are read, not mapped: ${e.message.split("\n")[0]}`);
  }
  return mapper;
}

/** Maps `path` when the platform allows, else reads it (same bytes either way). */
export const mapFileBytes: ByteSource = (path) => {
  const ab = loadMapper()?.(path);
  return ab ? new Uint8Array(ab) : readFileBytes(path);
};
