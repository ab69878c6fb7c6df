/* file_map.c: the weights mapper, a complete N-API module of its own (src/models/file-map.ts builds and loads it).
   mapFile(path) maps a file copy-on-write and hands it to JS as an external ArrayBuffer, so a warm start pays for no
   copy of the weights. A detached thread prefaults the mapping's page tables (MADV_POPULATE_READ) while the process goes
   on starting up, so the first forward does not pay a page fault per 64 KiB of weights; reads stay copy-on-write. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

struct populate_range { char* base; size_t size; };

/* Prefaults [base, base+size) readable, in steps so the faults of a forward that starts meanwhile interleave. Only
   madvise touches the range: if the buffer is unmapped meanwhile, madvise fails (ENOMEM) instead of faulting. */
static void* kiln_populate(void* arg) {
  struct populate_range r = *(struct populate_range*)arg;
  free(arg);
  const size_t step = (size_t)64 << 20;
  for (size_t off = 0; off < r.size; off += step) {
    size_t n = r.size - off < step ? r.size - off : step;
    if (madvise(r.base + off, n, MADV_POPULATE_READ) != 0) break; /* an older kernel (EINVAL) or unmapped: stop */
  }
  return NULL;
}

static void kiln_populate_in_background(void* p, size_t size) {
  struct populate_range* r = malloc(sizeof *r);
  if (!r) return;
  r->base = p;
  r->size = size;
  pthread_attr_t attr;
  pthread_t t;
  if (pthread_attr_init(&attr) != 0) { free(r); return; }
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&t, &attr, kiln_populate, r) != 0) free(r);
  pthread_attr_destroy(&attr);
}

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
  kiln_populate_in_background(p, (size_t)st.st_size);
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
