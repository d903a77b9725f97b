/* Module registration and the small helpers every part shares: errno/signal
 * names, error construction, argument conversion. */
#include "hearth.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define E(name) { name, #name }
static const struct { int num; const char *name; } errno_names[] = {
  E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
  E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
  E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR),
  E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY),
  E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE),
  E(ERANGE), E(EDEADLK), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY),
  E(ELOOP), E(EOVERFLOW), E(ENOTSOCK), E(EMSGSIZE), E(EOPNOTSUPP),
  E(EADDRINUSE), E(ENETDOWN), E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS),
  E(ENOTCONN), E(ETIMEDOUT), E(ECONNREFUSED), E(EALREADY), E(EINPROGRESS),
  E(ECANCELED), E(ELIBBAD), E(EDQUOT), E(EHWPOISON),
};
#undef E

const char *hearth_errno_name(int err) {
  static __thread char buf[16];
  for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
    if (errno_names[i].num == err) return errno_names[i].name;
  snprintf(buf, sizeof buf, "E%d", err);
  return buf;
}

#define S(name) { name, #name }
static const struct { int num; const char *name; } signal_names[] = {
  S(SIGHUP), S(SIGINT), S(SIGQUIT), S(SIGILL), S(SIGTRAP), S(SIGABRT),
  S(SIGBUS), S(SIGFPE), S(SIGKILL), S(SIGUSR1), S(SIGSEGV), S(SIGUSR2),
  S(SIGPIPE), S(SIGALRM), S(SIGTERM), S(SIGSTKFLT), S(SIGCHLD), S(SIGCONT),
  S(SIGSTOP), S(SIGTSTP), S(SIGTTIN), S(SIGTTOU), S(SIGURG), S(SIGXCPU),
  S(SIGXFSZ), S(SIGVTALRM), S(SIGPROF), S(SIGWINCH), S(SIGIO), S(SIGPWR),
  S(SIGSYS),
};
#undef S

const char *hearth_signal_name(int sig, char *buf, size_t len) {
  for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
    if (signal_names[i].num == sig) return signal_names[i].name;
  snprintf(buf, len, "SIG%d", sig);
  return buf;
}

static void set_str(napi_env env, napi_value obj, const char *key,
                    const char *val) {
  napi_value v;
  if (napi_create_string_utf8(env, val, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, obj, key, v);
}

napi_value hearth_make_errno_error(napi_env env, int err, const char *syscall,
                                   const char *message, const char *path) {
  napi_value code, msg, error, num;
  if (napi_create_string_utf8(env, hearth_errno_name(err), NAPI_AUTO_LENGTH,
                              &code) != napi_ok ||
      napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, code, msg, &error) != napi_ok)
    return NULL;
  /* Positive, like os.constants.errno. */
  if (napi_create_int32(env, err, &num) == napi_ok)
    napi_set_named_property(env, error, "errno", num);
  set_str(env, error, "syscall", syscall);
  if (path != NULL) set_str(env, error, "path", path);
  return error;
}

napi_value hearth_throw_errno(napi_env env, int err, const char *syscall,
                              const char *context) {
  char ebuf[128], msg[512];
  const char *es = strerror_r(err, ebuf, sizeof ebuf);
  if (context != NULL)
    snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, es, context);
  else
    snprintf(msg, sizeof msg, "%s: %s", syscall, es);
  napi_value error = hearth_make_errno_error(env, err, syscall, msg, NULL);
  if (error != NULL) napi_throw(env, error);
  return NULL;
}

napi_value hearth_throw_type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

napi_value hearth_throw_range_error(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

void hearth_throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "hearth_native: %s failed: %s", what,
           info != NULL && info->error_message != NULL ? info->error_message
                                                       : "unknown error");
  napi_throw_error(env, NULL, msg);
}

int hearth_arg_int32(napi_env env, napi_value v, const char *name,
                     int32_t *out) {
  char msg[128];
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || d != (double)(int32_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer", name);
    hearth_throw_type_error(env, msg);
    return -1;
  }
  *out = (int32_t)d;
  return 0;
}

int hearth_arg_int64(napi_env env, napi_value v, const char *name,
                     int64_t *out) {
  char msg[128];
  napi_valuetype t;
  double d;
  /* Exact integers only: 2^53 is far beyond any size we handle. */
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number ||
      napi_get_value_double(env, v, &d) != napi_ok || d != d ||
      d < -9007199254740992.0 || d > 9007199254740992.0 ||
      d != (double)(int64_t)d) {
    snprintf(msg, sizeof msg, "%s must be an integer", name);
    hearth_throw_type_error(env, msg);
    return -1;
  }
  *out = (int64_t)d;
  return 0;
}

int hearth_arg_bool(napi_env env, napi_value v, const char *name, int *out) {
  char msg[128];
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a boolean", name);
    hearth_throw_type_error(env, msg);
    return -1;
  }
  *out = b;
  return 0;
}

char *hearth_arg_string(napi_env env, napi_value v, const char *name) {
  char msg[160];
  size_t len, got;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    snprintf(msg, sizeof msg, "%s must be a string", name);
    hearth_throw_type_error(env, msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    hearth_throw_errno(env, ENOMEM, "malloc", name);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &got);
  if (strlen(s) != got) {
    free(s);
    snprintf(msg, sizeof msg, "%s must not contain NUL characters", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return s;
}

napi_status hearth_export(napi_env env, napi_value exports, const char *name,
                          napi_callback cb) {
  napi_value fn;
  napi_status s = napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn);
  if (s != napi_ok) return s;
  return napi_set_named_property(env, exports, name, fn);
}

static napi_value init(napi_env env, napi_value exports) {
  if (hearth_init_spawn(env, exports) != napi_ok ||
      hearth_init_fdpass(env, exports) != napi_ok ||
      hearth_init_memory(env, exports) != napi_ok ||
      hearth_init_markers(env, exports) != napi_ok ||
      hearth_init_isolation(env, exports) != napi_ok ||
      hearth_init_affinity(env, exports) != napi_ok) {
    hearth_throw_napi_failure(env, "module init");
    return NULL;
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
