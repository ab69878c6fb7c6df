// The N-API entry of every native program: `run(buffers, symbols)` passes typed arrays
// zero-copy to `kiln_run` (one native call per forward) and counts the calls.
export const NAPI_GLUE = `
#include <node_api.h>
void kiln_run(void **bufs, const int64_t *syms);
static double kiln_calls = 0;
#define KILN_MAX_BUFS 4096
#define KILN_MAX_SYMS 64
static napi_value kiln_js_run(napi_env env, napi_callback_info info) {
  size_t argc = 2; napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) { napi_throw_error(env, "E_NATIVE", "run(buffers, symbols) takes 2 arguments"); return NULL; }
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || n > KILN_MAX_BUFS) { napi_throw_error(env, "E_NATIVE", "buffers must be an array"); return NULL; }
  static void *bufs[KILN_MAX_BUFS];
  for (uint32_t i = 0; i < n; i++) {
    napi_value el; napi_typedarray_type type; size_t len; void *data = NULL; napi_value ab; size_t off;
    napi_get_element(env, argv[0], i, &el);
    if (napi_get_typedarray_info(env, el, &type, &len, &data, &ab, &off) != napi_ok) { napi_throw_error(env, "E_NATIVE", "every buffer must be a typed array"); return NULL; }
    bufs[i] = data;
  }
  napi_typedarray_type st; size_t slen; void *sdata = NULL; napi_value sab; size_t soff;
  if (napi_get_typedarray_info(env, argv[1], &st, &slen, &sdata, &sab, &soff) != napi_ok || st != napi_float64_array || slen > KILN_MAX_SYMS) { napi_throw_error(env, "E_NATIVE", "symbols must be a Float64Array"); return NULL; }
  int64_t syms[KILN_MAX_SYMS];
  for (size_t i = 0; i < slen; i++) syms[i] = (int64_t)((double *)sdata)[i];
  kiln_run(bufs, syms);
  kiln_calls += 1;
  return NULL;
}
static napi_value kiln_js_calls(napi_env env, napi_callback_info info) { (void)info; napi_value r; napi_create_double(env, kiln_calls, &r); return r; }
NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "run", NAPI_AUTO_LENGTH, kiln_js_run, NULL, &fn); napi_set_named_property(env, exports, "run", fn);
  napi_create_function(env, "calls", NAPI_AUTO_LENGTH, kiln_js_calls, NULL, &fn); napi_set_named_property(env, exports, "calls", fn);
  return exports;
}
`;
