/* Shared-memory state: memfd creation, huge-page reservation, sealing, and
 * mapping an fd into an external ArrayBuffer so JS reads state in place
 * (no copy, one physical copy shared by every worker). */
#include "hearth.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21U << MFD_HUGE_SHIFT)
#endif
#define HEARTH_HUGETLBFS_MAGIC 0x958458f6

/* munmap() must find the mapping behind an ArrayBuffer, but napi_wrap does
 * not apply to ArrayBuffers. Two pieces make that lookup exact:
 *  - every ArrayBuffer made here carries a type tag, so "was this returned
 *    by mmap()" holds even after it was detached (data pointer gone);
 *  - live mappings sit in a list keyed by address. Two live mappings never
 *    share an address, and a mapping leaves the live set (unmapped = 1)
 *    before its address can be handed out again by the kernel, so a tagged,
 *    not-detached ArrayBuffer's data pointer names exactly one live record.
 * A list suffices: a worker holds a handful of mappings, not thousands. */
struct mapping {
  void *addr;
  size_t mapped; /* length passed to mmap, rounded to the backing page size */
  int unmapped;
  /* Set while napi_create_external_arraybuffer runs: Node calls the
   * finalizer itself when that call fails after taking ownership. */
  int *finalized;
  struct mapping *prev, *next;
};

static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *mappings;

static const napi_type_tag mmap_tag = { 0x68656172746820ULL, 0x6d6d61702d616231ULL };

static void mapping_insert(struct mapping *m) {
  pthread_mutex_lock(&mappings_lock);
  m->prev = NULL;
  m->next = mappings;
  if (mappings != NULL) mappings->prev = m;
  mappings = m;
  pthread_mutex_unlock(&mappings_lock);
}

/* Caller holds the lock. */
static void mapping_unlink(struct mapping *m) {
  if (m->prev != NULL) m->prev->next = m->next;
  else mappings = m->next;
  if (m->next != NULL) m->next->prev = m->prev;
}

static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  if (m->finalized != NULL) *m->finalized = 1;
  pthread_mutex_lock(&mappings_lock);
  mapping_unlink(m);
  int live = !m->unmapped;
  m->unmapped = 1;
  pthread_mutex_unlock(&mappings_lock);
  if (live) munmap(m->addr, m->mapped);
  free(m);
}

/* memfdCreate(name, hugetlb) */
static napi_value js_memfd_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int huge;
  if (argc < 2 || hearth_arg_bool(env, argv[1], "hugetlb", &huge) != 0) return NULL;
  char *name = hearth_arg_string(env, argv[0], "name");
  if (name == NULL) return NULL;
  unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  if (huge) flags |= MFD_HUGETLB | MFD_HUGE_2MB;
  int fd = memfd_create(name, flags);
  if (fd < 0) {
    int err = errno;
    char ctx[300];
    snprintf(ctx, sizeof ctx, "name %s%s", name, huge ? ", hugetlb 2M" : "");
    free(name);
    return hearth_throw_errno(env, err, "memfd_create", ctx);
  }
  free(name);
  napi_value v;
  NAPI_CALL(env, napi_create_int32(env, fd, &v));
  return v;
}

/* fallocate(fd, length): on hugetlbfs this reserves the pages now, so a
 * shortage is ENOSPC here rather than SIGBUS on first touch. */
static napi_value js_fallocate(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t len;
  if (argc < 2 || hearth_arg_int32(env, argv[0], "fd", &fd) != 0 ||
      hearth_arg_int64(env, argv[1], "length", &len) != 0)
    return NULL;
  if (len <= 0) return hearth_throw_range_error(env, "length must be > 0");
  int r;
  do r = fallocate(fd, 0, 0, (off_t)len);
  while (r != 0 && errno == EINTR);
  if (r != 0) {
    char ctx[64];
    snprintf(ctx, sizeof ctx, "fd %d, %lld bytes", fd, (long long)len);
    return hearth_throw_errno(env, errno, "fallocate", ctx);
  }
  return NULL;
}

/* sealReadOnly(fd): after this nobody can write, resize or unseal the
 * contents; fails with EBUSY while a writable shared mapping exists. */
static napi_value js_seal_read_only(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 1 || hearth_arg_int32(env, argv[0], "fd", &fd) != 0) return NULL;
  if (fcntl(fd, F_ADD_SEALS,
            F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
    char ctx[32];
    snprintf(ctx, sizeof ctx, "fd %d", fd);
    return hearth_throw_errno(env, errno, "fcntl(F_ADD_SEALS)", ctx);
  }
  return NULL;
}

/* Maps [0, length) of fd MAP_SHARED (length > 0) and records the mapping. On
 * failure throws and returns NULL. */
static struct mapping *map_fd(napi_env env, int32_t fd, int64_t len, int writable,
                              int populate) {
  char ctx[96];
  snprintf(ctx, sizeof ctx, "fd %d", fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return hearth_throw_errno(env, errno, "fstat", ctx), NULL;
  if (len > (int64_t)st.st_size) {
    snprintf(ctx, sizeof ctx, "fd %d: length %lld exceeds file size %lld", fd,
             (long long)len, (long long)st.st_size);
    return hearth_throw_errno(env, EINVAL, "mmap", ctx), NULL;
  }
  /* Huge-page mappings must cover whole huge pages. */
  struct statfs sfs;
  if (fstatfs(fd, &sfs) != 0) return hearth_throw_errno(env, errno, "fstatfs", ctx), NULL;
  size_t page = (unsigned long)sfs.f_type == HEARTH_HUGETLBFS_MAGIC
                    ? (size_t)sfs.f_bsize
                    : (size_t)sysconf(_SC_PAGESIZE);
  size_t mapped = ((size_t)len + page - 1) / page * page;

  struct mapping *m = malloc(sizeof *m);
  if (m == NULL) return hearth_throw_errno(env, ENOMEM, "malloc", ctx), NULL;
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void *addr = mmap(NULL, mapped, prot, flags, fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    free(m);
    snprintf(ctx, sizeof ctx, "fd %d, %zu bytes%s", fd, mapped,
             writable ? ", writable" : "");
    return hearth_throw_errno(env, err, "mmap", ctx), NULL;
  }
  m->addr = addr;
  m->mapped = mapped;
  m->unmapped = 0;
  m->finalized = NULL;
  mapping_insert(m);
  return m;
}

/* Undoes map_fd when no JS object took the mapping over. */
static void mapping_discard(struct mapping *m) {
  pthread_mutex_lock(&mappings_lock);
  mapping_unlink(m);
  pthread_mutex_unlock(&mappings_lock);
  munmap(m->addr, m->mapped);
  free(m);
}

static int mmap_args(napi_env env, napi_callback_info info, size_t want, int32_t *fd,
                     int64_t *len, int *writable, int *populate) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    hearth_throw_napi_failure(env, "napi_get_cb_info");
    return -1;
  }
  if (argc < want || hearth_arg_int32(env, argv[0], "fd", fd) != 0 ||
      hearth_arg_int64(env, argv[1], "length", len) != 0 ||
      (writable != NULL && hearth_arg_bool(env, argv[2], "writable", writable) != 0) ||
      hearth_arg_bool(env, argv[want - 1], "populate", populate) != 0)
    return -1;
  if (*len < 0) {
    hearth_throw_range_error(env, "length must be >= 0");
    return -1;
  }
  return 0;
}

/* mmap(fd, length, writable, populate) -> ArrayBuffer of exactly length. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t len;
  int writable, populate;
  if (mmap_args(env, info, 4, &fd, &len, &writable, &populate) != 0) return NULL;

  napi_value ab;
  if (len == 0) {
    void *unused;
    NAPI_CALL(env, napi_create_arraybuffer(env, 0, &unused, &ab));
    NAPI_CALL(env, napi_type_tag_object(env, ab, &mmap_tag));
    return ab;
  }
  struct mapping *m = map_fd(env, fd, len, writable, populate);
  if (m == NULL) return NULL;
  int finalized = 0;
  m->finalized = &finalized;
  napi_status s = napi_create_external_arraybuffer(env, m->addr, (size_t)len,
                                                   mapping_finalize, m, &ab);
  if (s != napi_ok) {
    if (!finalized) mapping_discard(m); /* still ours: the finalizer never ran */
    hearth_throw_napi_failure(env, "napi_create_external_arraybuffer");
    return NULL;
  }
  /* From here the finalizer owns m. */
  m->finalized = NULL;
  NAPI_CALL(env, napi_type_tag_object(env, ab, &mmap_tag));
  return ab;
}

static void mapping_release(void *data, size_t length, void *hint) {
  (void)data;
  (void)length;
  mapping_finalize(NULL, NULL, hint);
}

/* mapState(fd, length, populate) -> read-only SharedArrayBuffer of exactly
 * length, unmapped when V8 drops it (a worker's state lives as long as the
 * worker). Not counted as external memory: see shared_buffer.cc. */
static napi_value js_map_state(napi_env env, napi_callback_info info) {
  int32_t fd;
  int64_t len;
  int populate;
  if (mmap_args(env, info, 3, &fd, &len, NULL, &populate) != 0) return NULL;
  if (len == 0) return hearth_new_shared_arraybuffer(env, NULL, 0, NULL, NULL);
  struct mapping *m = map_fd(env, fd, len, 0, populate);
  if (m == NULL) return NULL;
  return hearth_new_shared_arraybuffer(env, m->addr, (size_t)len, mapping_release, m);
}

/* munmap(ab): unmap now instead of at GC, and detach so JS can no longer
 * reach the unmapped pages. Idempotent. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  bool is_ab = false, tagged = false, detached = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab)
    return hearth_throw_type_error(env, "munmap: expected an ArrayBuffer");
  NAPI_CALL(env, napi_check_object_type_tag(env, argv[0], &mmap_tag, &tagged));
  if (!tagged)
    return hearth_throw_type_error(
        env, "munmap: this ArrayBuffer was not returned by mmap()");
  NAPI_CALL(env, napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL;
  void *data = NULL;
  size_t len = 0;
  NAPI_CALL(env, napi_get_arraybuffer_info(env, argv[0], &data, &len));
  if (data == NULL || len == 0) return NULL; /* the empty, never-mapped case */

  struct mapping *m;
  pthread_mutex_lock(&mappings_lock);
  for (m = mappings; m != NULL; m = m->next)
    if (m->addr == data && !m->unmapped) break;
  if (m != NULL) m->unmapped = 1; /* claim it: the finalizer will not unmap */
  pthread_mutex_unlock(&mappings_lock);
  if (m == NULL)
    return hearth_throw_type_error(env, "munmap: no live mapping for this ArrayBuffer");
  void *addr = m->addr;
  size_t mapped = m->mapped;

  /* Detach before unmapping: if detaching failed, JS could still reach the
   * pages. After a successful detach `m` may be finalized at any time. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) {
    pthread_mutex_lock(&mappings_lock);
    m->unmapped = 0;
    pthread_mutex_unlock(&mappings_lock);
    hearth_throw_napi_failure(env, "napi_detach_arraybuffer");
    return NULL;
  }
  if (munmap(addr, mapped) != 0)
    return hearth_throw_errno(env, errno, "munmap", NULL);
  return NULL;
}

napi_status hearth_init_memory(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = hearth_export(env, exports, "memfdCreate", js_memfd_create)) != napi_ok ||
      (s = hearth_export(env, exports, "fallocate", js_fallocate)) != napi_ok ||
      (s = hearth_export(env, exports, "sealReadOnly", js_seal_read_only)) != napi_ok ||
      (s = hearth_export(env, exports, "mmap", js_mmap)) != napi_ok ||
      (s = hearth_export(env, exports, "mapState", js_map_state)) != napi_ok)
    return s;
  return hearth_export(env, exports, "munmap", js_munmap);
}
