/* Shared declarations for the hearth_native addon. */
#ifndef HEARTH_NATIVE_H
#define HEARTH_NATIVE_H

#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stddef.h>

/* Evaluate a napi call; on failure throw (unless an exception is already
 * pending) and return NULL from the calling napi_callback. */
#define NAPI_CALL(env, call)                                   \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      hearth_throw_napi_failure((env), #call);                 \
      return NULL;                                             \
    }                                                          \
  } while (0)

const char *hearth_errno_name(int err);
const char *hearth_signal_name(int sig, char *buf, size_t len);

/* Throw Error("<syscall>: <strerror>[ (<context>)]") with code, errno and
 * syscall properties. `context` may be NULL. Always returns NULL so callers
 * can `return hearth_throw_errno(...)`. */
napi_value hearth_throw_errno(napi_env env, int err, const char *syscall,
                              const char *context);
/* Same shape, already-built message; extra string property `path` if set. */
napi_value hearth_make_errno_error(napi_env env, int err, const char *syscall,
                                   const char *message, const char *path);
napi_value hearth_throw_type_error(napi_env env, const char *msg);
napi_value hearth_throw_range_error(napi_env env, const char *msg);
void hearth_throw_napi_failure(napi_env env, const char *what);

/* Argument helpers: return 0 on success, or throw a TypeError and return -1. */
int hearth_arg_int32(napi_env env, napi_value v, const char *name, int32_t *out);
int hearth_arg_int64(napi_env env, napi_value v, const char *name, int64_t *out);
int hearth_arg_bool(napi_env env, napi_value v, const char *name, int *out);
/* malloc'd NUL-terminated UTF-8 copy; rejects strings with embedded NULs. */
char *hearth_arg_string(napi_env env, napi_value v, const char *name);

struct hearth_sandbox;
/* The sandbox options object ({uid?, gid?, nproc?, seccomp?}: seccomp a
 * boolean, absent ids kept): 0, or -1 with a TypeError or RangeError thrown. */
int hearth_arg_sandbox(napi_env env, napi_value v, struct hearth_sandbox *out);

/* A JS array of CPU numbers as a cpu_set_t: 0, or -1 with a TypeError or RangeError
 * thrown. */
int hearth_arg_cpuset(napi_env env, napi_value v, const char *name, cpu_set_t *out);

/* A SharedArrayBuffer over [data, data+length); release(data, length, hint) runs when V8
 * drops it (shared_buffer.cc). */
napi_value hearth_new_shared_arraybuffer(napi_env env, void *data, size_t length,
                                         void (*release)(void *data, size_t length, void *hint),
                                         void *hint);

/* Module parts register their functions on `exports`. */
napi_status hearth_init_spawn(napi_env env, napi_value exports);
napi_status hearth_init_fdpass(napi_env env, napi_value exports);
napi_status hearth_init_memory(napi_env env, napi_value exports);
napi_status hearth_init_markers(napi_env env, napi_value exports);
napi_status hearth_init_isolation(napi_env env, napi_value exports);
napi_status hearth_init_affinity(napi_env env, napi_value exports);

napi_status hearth_export(napi_env env, napi_value exports, const char *name,
                          napi_callback cb);

#endif
