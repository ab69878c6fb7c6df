// Weights mapped rather than read: a tiny native helper (built once into the cache's verified objects
// store, like any kernel object, and loaded only as verified bytes) mmaps a file copy-on-write and hands it to JS as an external
// ArrayBuffer, so a warm start pays for no 1 GB copy — pages come in as the first forward
// touches them. Without a compiler or a cache folder, files are read as before.
import { NativeBuilder, ObjectStore, type VerifiedObject, hasToolchain, loadAddon } from "../backend/index.js";
import { type KilnEnv, KilnError, logLine, readEnv, resolveCacheRoot, sha256Hex } from "../util/index.js";
import { type ByteSource, readFileBytes } from "./safetensors.js";

const MAPPER_C = String.raw`
#define NAPI_VERSION 8
#include <node_api.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void kiln_unmap(napi_env env, void* data, void* hint) { (void)env; munmap(data, (size_t)(uintptr_t)hint); }

/* mapFile(path) → ArrayBuffer over the file (private, writable copy-on-write), or undefined on any failure. */
static napi_value kiln_map_file(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[4096];
  size_t len = 0;
  napi_get_undefined(env, &result);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return result;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) return result;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return result;
  struct stat st;
  void* p = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size > 0) p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return result;
  madvise(p, (size_t)st.st_size, MADV_WILLNEED);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, (size_t)st.st_size, kiln_unmap, (void*)(uintptr_t)st.st_size, &ab) != napi_ok) {
    munmap(p, (size_t)st.st_size);
    return result;
  }
  return ab;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "mapFile", NAPI_AUTO_LENGTH, kiln_map_file, NULL, &fn) == napi_ok) napi_set_named_property(env, exports, "mapFile", fn);
  return exports;
}
`;

let mapper: ((path: string) => ArrayBuffer | undefined) | null | undefined;

/** The mapper's key in the objects store: its source and platform only (it uses no CPU feature, and N-API is
 * ABI-stable), so a warm start finds it without probing the compiler. */
const MAPPER_KEY = `file-map-${sha256Hex(`${MAPPER_C}|${process.platform}|${process.arch}`).slice(0, 32)}`;

/**
 * The mapper's verified bytes from the cache's objects store, built there when absent (never under
 * KILN_FORCE_AOT_LOAD, which forbids compiling). Undefined when the JS backend or a disable switch is set.
 */
function mapperObject(env: KilnEnv): VerifiedObject | undefined {
  if (env.backend === "js" || env.disableCompileCache || !env.useAotCompile) return undefined;
  const root = resolveCacheRoot();
  if (!root) return undefined;
  const store = ObjectStore.inCache(root);
  const stored = store.get(MAPPER_KEY);
  if (stored || env.forceAotLoad || !hasToolchain()) return stored;
  // Built in a throwaway store, kept in the cache under its stable key only (one record, the one that is read).
  const built = new NativeBuilder({ target: "portable" }).buildSync(MAPPER_C);
  return store.put(MAPPER_KEY, built.bytes);
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
