// napiGlue(): generated N-API module glue that exposes C entries `void f(void** bufs, const int64_t* syms)` to JS.
//
// Each exported entry takes (array of typed arrays, BigInt64Array of symbol values), passes the arrays' memory
// zero-copy (napi_get_typedarray_info), counts the call, runs the entry once, and throws if the C side called
// kiln_fail. The module also exports `calls()`, `isa()`, `bf16dot()`, `threads()`, `setThreads(n)`, `arenaBytes()`.
import { ArgumentError } from "../../util/index.js";

/** One C function exported to JS; buffer and symbol counts are checked on every call when given. */
export interface NativeEntry {
  /** The JS property name. */
  readonly name: string;
  /** The C function, `void symbol(void** bufs, const int64_t* syms)`, defined in the object's source. */
  readonly symbol: string;
  readonly buffers?: number;
  readonly symbols?: number;
}

/** The JS names the glue itself exports; entries may not reuse them. */
export const GLUE_EXPORTS = ["calls", "isa", "bf16dot", "threads", "setThreads", "arenaBytes"] as const;

const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const GLUE_PRELUDE = String.raw`
/* ---- kiln N-API glue ---- */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>

typedef void (*kiln_entry_fn)(void** bufs, const int64_t* syms);
static atomic_llong kiln_native_calls;

static napi_value kiln_throw(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return NULL;
}

#define KILN_NAPI(env, call) do { if ((call) != napi_ok) return kiln_throw(env, "E_NAPI", "N-API call failed: " #call); } while (0)
#define KILN_MAX_STACK_BUFFERS 256

static napi_value kiln_call_entry(napi_env env, napi_callback_info info, kiln_entry_fn fn, const char* name,
                                  int64_t want_buffers, int64_t want_symbols) {
  size_t argc = 2;
  napi_value argv[2];
  KILN_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_array = false;
  if (argc >= 1) KILN_NAPI(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, "E_ARGUMENT", "native entry: argument 0 must be an array of typed arrays");
    return NULL;
  }
  uint32_t n = 0;
  KILN_NAPI(env, napi_get_array_length(env, argv[0], &n));
  char message[160];
  if (want_buffers >= 0 && (int64_t)n != want_buffers) {
    snprintf(message, sizeof message, "native entry %s: expected %lld buffers, got %u", name, (long long)want_buffers, n);
    napi_throw_type_error(env, "E_ARGUMENT", message);
    return NULL;
  }
  void* stack_bufs[KILN_MAX_STACK_BUFFERS];
  void** bufs = n <= KILN_MAX_STACK_BUFFERS ? stack_bufs : (void**)malloc(sizeof(void*) * n);
  if (!bufs) return kiln_throw(env, "E_NATIVE", "native entry: out of memory");
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    bool is_typed = false;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || napi_is_typedarray(env, el, &is_typed) != napi_ok || !is_typed) {
      if (bufs != stack_bufs) free(bufs);
      snprintf(message, sizeof message, "native entry %s: buffer %u is not a typed array", name, i);
      napi_throw_type_error(env, "E_ARGUMENT", message);
      return NULL;
    }
    napi_typedarray_type type;
    size_t length;
    void* data = NULL;
    if (napi_get_typedarray_info(env, el, &type, &length, &data, NULL, NULL) != napi_ok) {
      if (bufs != stack_bufs) free(bufs);
      return kiln_throw(env, "E_NAPI", "napi_get_typedarray_info failed");
    }
    bufs[i] = data;
  }
  const int64_t* syms = NULL;
  size_t nsyms = 0;
  bool syms_ok = false;
  if (argc >= 2) {
    bool is_typed = false;
    napi_typedarray_type type;
    void* data = NULL;
    if (napi_is_typedarray(env, argv[1], &is_typed) == napi_ok && is_typed &&
        napi_get_typedarray_info(env, argv[1], &type, &nsyms, &data, NULL, NULL) == napi_ok && type == napi_bigint64_array) {
      syms = (const int64_t*)data;
      syms_ok = true;
    }
  } else {
    syms_ok = want_symbols <= 0;
  }
  if (!syms_ok || (want_symbols >= 0 && (int64_t)nsyms < want_symbols)) {
    if (bufs != stack_bufs) free(bufs);
    snprintf(message, sizeof message, "native entry %s: argument 1 must be a BigInt64Array of %lld symbol values", name,
             (long long)(want_symbols < 0 ? 0 : want_symbols));
    napi_throw_type_error(env, "E_ARGUMENT", message);
    return NULL;
  }
  static const int64_t no_syms[1] = {0};
  atomic_store(&kiln_error_message, NULL);
  atomic_fetch_add(&kiln_native_calls, 1);
  fn(bufs, syms ? syms : no_syms);
  if (bufs != stack_bufs) free(bufs);
  const char* failure = atomic_exchange(&kiln_error_message, NULL);
  if (failure) return kiln_throw(env, "E_NATIVE", failure);
  return NULL;
}

static napi_value kiln_js_calls(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  KILN_NAPI(env, napi_create_double(env, (double)atomic_load(&kiln_native_calls), &v));
  return v;
}

static napi_value kiln_js_isa(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  KILN_NAPI(env, napi_create_string_utf8(env, KILN_ISA, NAPI_AUTO_LENGTH, &v));
  return v;
}

static napi_value kiln_js_bf16dot(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
#if defined(KILN_HAS_BF16DOT)
  KILN_NAPI(env, napi_get_boolean(env, true, &v));
#else
  KILN_NAPI(env, napi_get_boolean(env, false, &v));
#endif
  return v;
}

static napi_value kiln_js_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  KILN_NAPI(env, napi_create_int32(env, kiln_num_threads(), &v));
  return v;
}

static napi_value kiln_js_set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  KILN_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, "E_ARGUMENT", "setThreads: expected a positive integer");
    return NULL;
  }
  kiln_set_num_threads(n);
  return NULL;
}

static napi_value kiln_js_arena_bytes(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  KILN_NAPI(env, napi_create_double(env, (double)kiln_default_arena.cap, &v));
  return v;
}

/* The pool and arena are shared by every Node environment that loads this object; the last one out stops them. */
static void kiln_env_cleanup(void* arg) {
  (void)arg;
  pthread_mutex_lock(&kiln_pool.mu);
  int last = --kiln_pool.users == 0;
  pthread_mutex_unlock(&kiln_pool.mu);
  if (last) {
    kiln_pool_stop();
    kiln_arena_release(&kiln_default_arena);
  }
}

static napi_value kiln_export(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  KILN_NAPI(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn));
  KILN_NAPI(env, napi_set_named_property(env, exports, name, fn));
  return exports;
}
`;

function entryWrapper(e: NativeEntry, i: number): string {
  return `static napi_value kiln_js_entry_${i}(napi_env env, napi_callback_info info) {
  return kiln_call_entry(env, info, ${e.symbol}, "${e.name}", ${e.buffers ?? -1}, ${e.symbols ?? -1});
}
`;
}

/** C source of the module glue for these entries; it must come after the runtime and the entries' definitions. */
export function napiGlue(entries: readonly NativeEntry[]): string {
  const names = new Set<string>(GLUE_EXPORTS);
  for (const e of entries) {
    if (!C_IDENT.test(e.symbol)) throw new ArgumentError("napiGlue", `entry symbol '${e.symbol}' is not a C identifier`);
    if (!C_IDENT.test(e.name)) throw new ArgumentError("napiGlue", `entry name '${e.name}' is not an identifier`);
    if (names.has(e.name)) throw new ArgumentError("napiGlue", `entry name '${e.name}' is used twice or by the glue`);
    names.add(e.name);
  }
  const exportsList = [
    ...GLUE_EXPORTS.map((n) => [n, { calls: "kiln_js_calls", isa: "kiln_js_isa", bf16dot: "kiln_js_bf16dot", threads: "kiln_js_threads", setThreads: "kiln_js_set_threads", arenaBytes: "kiln_js_arena_bytes" }[n]] as const),
    ...entries.map((e, i) => [e.name, `kiln_js_entry_${i}`] as const),
  ];
  return `${GLUE_PRELUDE}
${entries.map(entryWrapper).join("")}
NAPI_MODULE_INIT() {
  pthread_mutex_lock(&kiln_pool.mu);
  kiln_pool.users++;
  pthread_mutex_unlock(&kiln_pool.mu);
  KILN_NAPI(env, napi_add_env_cleanup_hook(env, kiln_env_cleanup, NULL));
${exportsList.map(([n, f]) => `  if (!kiln_export(env, exports, "${n}", ${f})) return NULL;\n`).join("")}  return exports;
}
`;
}
