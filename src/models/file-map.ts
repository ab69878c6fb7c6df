// Weights mapped rather than read: a tiny native helper (built once into the cache's verified objects
// store, like any kernel object, and loaded only as verified bytes) mmaps a file copy-on-write and hands it to JS as an external
// ArrayBuffer, so a warm start pays for no 1 GB copy — pages come in as the first forward
// touches them. Without a compiler or a cache folder, files are read as before.
import { NativeBuilder, ObjectStore, type VerifiedObject, hasToolchain, loadAddon, mapperSource } from "../backend/index.js";
import { Fleet } from "../compile/index.js";
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
  // signature when KILN_CACHE_TRUSTED_KEYS asks for one); one that builds it publishes it, as a compile does a bundle.
  const fleet = Fleet.named(env, key, "the weights mapper");
  const fetched = fleet?.fetchBytes();
  if (fetched) return store.put(key, fetched);
  if (env.forceAotLoad || !hasToolchain()) return undefined;
  // Built in a throwaway store, kept in the cache under its stable key only (one record, the one that is read).
  const built = new NativeBuilder({ target: "portable" }).buildSync(source);
  const object = store.put(key, built.bytes);
  fleet?.publish(built.bytes, 0);
  return object;
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
