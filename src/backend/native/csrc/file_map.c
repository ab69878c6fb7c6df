/* file_map.c: the weights mapper, a complete N-API module of its own (src/models/file-map.ts builds and loads it).
   mapFile(path) maps a file copy-on-write and hands it to JS as an external ArrayBuffer, so a warm start pays for no
   copy of the weights: pages come in as the first forward touches them. */
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
