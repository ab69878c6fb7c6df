/* napi_glue.c: the N-API module glue. It exposes the object's entries (the kiln_entries table, defined by the
   object's own code) to JS as functions taking (array of typed arrays, BigInt64Array of symbol values): each call
   checks the arguments, passes the arrays' memory zero-copy, counts the call, runs the entry once, and throws if
   the C side called kiln_fail. The module also exports calls(), isa(), bf16dot(), threads(), setThreads(n),
   arenaBytes(), parallelJobs(), setProfile(on), profile() and resetProfile() (the names module-glue.ts's GLUE_EXPORTS lists). */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdatomic.h>
#include <stdio.h>

#include "kiln_runtime.h"

static atomic_llong kiln_native_calls;

static napi_value kiln_throw(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return NULL;
}

#define KILN_NAPI(env, call) do { if ((call) != napi_ok) return kiln_throw(env, "E_NAPI", "N-API call failed: " #call); } while (0)
#define KILN_MAX_STACK_BUFFERS 256

static napi_value kiln_call_entry(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void* data = NULL;
  KILN_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, &data));
  const kiln_entry* entry = (const kiln_entry*)data;
  const char* name = entry->name;
  bool is_array = false;
  if (argc >= 1) KILN_NAPI(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, "E_ARGUMENT", "native entry: argument 0 must be an array of typed arrays");
    return NULL;
  }
  uint32_t n = 0;
  KILN_NAPI(env, napi_get_array_length(env, argv[0], &n));
  char message[160];
  if (entry->buffers >= 0 && (int64_t)n != entry->buffers) {
    snprintf(message, sizeof message, "native entry %s: expected %lld buffers, got %u", name, (long long)entry->buffers, n);
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
    void* array_data = NULL;
    if (napi_get_typedarray_info(env, el, &type, &length, &array_data, NULL, NULL) != napi_ok) {
      if (bufs != stack_bufs) free(bufs);
      return kiln_throw(env, "E_NAPI", "napi_get_typedarray_info failed");
    }
    bufs[i] = array_data;
  }
  const int64_t* syms = NULL;
  size_t nsyms = 0;
  bool syms_ok = false;
  if (argc >= 2) {
    bool is_typed = false;
    napi_typedarray_type type;
    void* syms_data = NULL;
    if (napi_is_typedarray(env, argv[1], &is_typed) == napi_ok && is_typed &&
        napi_get_typedarray_info(env, argv[1], &type, &nsyms, &syms_data, NULL, NULL) == napi_ok && type == napi_bigint64_array) {
      syms = (const int64_t*)syms_data;
      syms_ok = true;
    }
  } else {
    syms_ok = entry->symbols <= 0;
  }
  if (!syms_ok || (entry->symbols >= 0 && (int64_t)nsyms < entry->symbols)) {
    if (bufs != stack_bufs) free(bufs);
    snprintf(message, sizeof message, "native entry %s: argument 1 must be a BigInt64Array of %lld symbol values", name,
             (long long)(entry->symbols < 0 ? 0 : entry->symbols));
    napi_throw_type_error(env, "E_ARGUMENT", message);
    return NULL;
  }
  static const int64_t no_syms[1] = {0};
  (void)kiln_take_error(); /* a failure left by an earlier call that threw elsewhere is not this call's */
  atomic_fetch_add(&kiln_native_calls, 1);
  entry->fn(bufs, syms ? syms : no_syms);
  if (bufs != stack_bufs) free(bufs);
  const char* failure = kiln_take_error();
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

static napi_value kiln_js_parallel_jobs(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  KILN_NAPI(env, napi_create_double(env, (double)kiln_parallel_jobs(), &v));
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

static napi_value kiln_js_set_profile(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool on = false;
  KILN_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_bool(env, argv[0], &on) != napi_ok) {
    napi_throw_type_error(env, "E_ARGUMENT", "setProfile: expected a boolean");
    return NULL;
  }
  kiln_set_profile(on);
  return NULL;
}

static napi_value kiln_set_number(napi_env env, napi_value obj, const char* key, double value) {
  napi_value v;
  KILN_NAPI(env, napi_create_double(env, value, &v));
  KILN_NAPI(env, napi_set_named_property(env, obj, key, v));
  return obj;
}

static napi_value kiln_set_string(napi_env env, napi_value obj, const char* key, const char* value) {
  napi_value v;
  KILN_NAPI(env, napi_create_string_utf8(env, value ? value : "", NAPI_AUTO_LENGTH, &v));
  KILN_NAPI(env, napi_set_named_property(env, obj, key, v));
  return obj;
}

/* {forwards, forwardNs, kernels: [{name, what, calls, ns}]}: the counters of the profiled runs so far. */
static napi_value kiln_js_profile(napi_env env, napi_callback_info info) {
  (void)info;
  int n = 0;
  int64_t forwards = 0, forward_ns = 0;
  const kiln_profile_entry* table = kiln_profile_table(&n, &forwards, &forward_ns);
  napi_value out, kernels;
  KILN_NAPI(env, napi_create_object(env, &out));
  if (!kiln_set_number(env, out, "forwards", (double)forwards) || !kiln_set_number(env, out, "forwardNs", (double)forward_ns)) return NULL;
  KILN_NAPI(env, napi_create_array_with_length(env, table ? (size_t)n : 0, &kernels));
  for (int i = 0; table && i < n; i++) {
    napi_value row;
    KILN_NAPI(env, napi_create_object(env, &row));
    if (!kiln_set_string(env, row, "name", table[i].name) || !kiln_set_string(env, row, "what", table[i].what) ||
        !kiln_set_number(env, row, "calls", (double)__atomic_load_n(&table[i].calls, __ATOMIC_RELAXED)) ||
        !kiln_set_number(env, row, "ns", (double)__atomic_load_n(&table[i].ns, __ATOMIC_RELAXED)))
      return NULL;
    KILN_NAPI(env, napi_set_element(env, kernels, (uint32_t)i, row));
  }
  KILN_NAPI(env, napi_set_named_property(env, out, "kernels", kernels));
  return out;
}

static napi_value kiln_js_reset_profile(napi_env env, napi_callback_info info) {
  (void)env;
  (void)info;
  kiln_profile_reset();
  return NULL;
}

static void kiln_env_cleanup(void* arg) {
  (void)arg;
  kiln_runtime_detach();
}

static napi_value kiln_export(napi_env env, napi_value exports, const char* name, napi_callback cb, void* data) {
  napi_value fn;
  KILN_NAPI(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, data, &fn));
  KILN_NAPI(env, napi_set_named_property(env, exports, name, fn));
  return exports;
}

NAPI_MODULE_INIT() {
  static const struct { const char* name; napi_callback cb; } glue[] = {
      {"calls", kiln_js_calls},     {"isa", kiln_js_isa},                 {"bf16dot", kiln_js_bf16dot},
      {"threads", kiln_js_threads}, {"setThreads", kiln_js_set_threads}, {"arenaBytes", kiln_js_arena_bytes},
      {"parallelJobs", kiln_js_parallel_jobs},
      {"setProfile", kiln_js_set_profile}, {"profile", kiln_js_profile}, {"resetProfile", kiln_js_reset_profile},
  };
  kiln_runtime_attach();
  KILN_NAPI(env, napi_add_env_cleanup_hook(env, kiln_env_cleanup, NULL));
  for (size_t i = 0; i < sizeof glue / sizeof glue[0]; i++) {
    if (!kiln_export(env, exports, glue[i].name, glue[i].cb, NULL)) return NULL;
  }
  for (int i = 0; i < kiln_entry_count; i++) {
    if (!kiln_export(env, exports, kiln_entries[i].name, kiln_call_entry, (void*)&kiln_entries[i])) return NULL;
  }
  return exports;
}
