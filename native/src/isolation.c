/* The worker sandbox from JavaScript: the options object the spawn helper
 * takes, enterSandbox(), which a Node stem cell calls when it is specialised
 * to a function (native/sandbox/sandbox.h does the work; the stem cell has
 * had the filter since it was started), and hideFromSiblings(), which every
 * Node worker calls at start. */
#include "hearth.h"
#include "../sandbox/sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

/* An optional integer property in [0, max]; absent or undefined gives `fallback`. */
static int get_u32(napi_env env, napi_value object, const char *key, uint32_t max,
                   uint32_t fallback, uint32_t *out) {
  napi_value value;
  napi_valuetype t;
  if (napi_get_named_property(env, object, key, &value) != napi_ok ||
      napi_typeof(env, value, &t) != napi_ok) {
    hearth_throw_napi_failure(env, key);
    return -1;
  }
  if (t == napi_undefined) {
    *out = fallback;
    return 0;
  }
  char name[64];
  snprintf(name, sizeof name, "sandbox.%s", key);
  int64_t number;
  if (hearth_arg_int64(env, value, name, &number) != 0) return -1;
  if (number < 0 || number > (int64_t)max) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be from 0 to %u", name, max);
    hearth_throw_range_error(env, msg);
    return -1;
  }
  *out = (uint32_t)number;
  return 0;
}

int hearth_arg_sandbox(napi_env env, napi_value v, struct hearth_sandbox *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) {
    hearth_throw_type_error(env, "sandbox must be an object");
    return -1;
  }
  /* uid and gid 0xffffffff are the kernel's "no change": not a real id. */
  out->flags = 0;
  out->pdeathsig = 0;
  out->parent = 0;
  if (get_u32(env, v, "uid", HEARTH_SANDBOX_KEEP_ID - 1, HEARTH_SANDBOX_KEEP_ID, &out->uid) != 0 ||
      get_u32(env, v, "gid", HEARTH_SANDBOX_KEEP_ID - 1, HEARTH_SANDBOX_KEEP_ID, &out->gid) != 0 ||
      get_u32(env, v, "nproc", UINT32_MAX, 0, &out->nproc) != 0)
    return -1;
  napi_value seccomp;
  napi_valuetype seccomp_type;
  int on = 0;
  if (napi_get_named_property(env, v, "seccomp", &seccomp) != napi_ok ||
      napi_typeof(env, seccomp, &seccomp_type) != napi_ok ||
      (seccomp_type != napi_undefined && hearth_arg_bool(env, seccomp, "sandbox.seccomp", &on) != 0))
    return -1;
  if (on) out->flags |= HEARTH_SANDBOX_SECCOMP;
  return 0;
}

/* enterSandbox({uid?, gid?, nproc?}, parentPid): every thread of this process
 * takes the ids; the parent-death signal (SIGKILL) is armed again for
 * parentPid. The filter cannot be installed here on every thread at once: the
 * process must have had it since its exec. */
static napi_value js_enter_sandbox(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return hearth_throw_type_error(env, "enterSandbox: expected 2 arguments");
  struct hearth_sandbox sandbox;
  int32_t parent;
  if (hearth_arg_sandbox(env, argv[0], &sandbox) != 0 ||
      hearth_arg_int32(env, argv[1], "parentPid", &parent) != 0)
    return NULL;
  if (sandbox.flags & HEARTH_SANDBOX_SECCOMP)
    return hearth_throw_range_error(env, "enterSandbox: a running process gets the filter from the one that started it");
  sandbox.flags |= HEARTH_SANDBOX_ALL_THREADS;
  sandbox.pdeathsig = 9;
  sandbox.parent = parent;
  const char *step = "sandbox";
  int err = hearth_sandbox_enter(&sandbox, &step);
  if (err != 0) return hearth_throw_errno(env, err, step, "entering the worker sandbox");
  return NULL;
}

/* hideFromSiblings(): not dumpable, so this process's /proc files belong to
 * root and another process of its user (a sibling worker of its function)
 * cannot read its memory or environment there. An exec resets it, so the
 * worker itself must ask, after its own exec. */
static napi_value js_hide_from_siblings(napi_env env, napi_callback_info info) {
  (void)info;
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return hearth_throw_errno(env, errno, "prctl", "PR_SET_DUMPABLE");
  return NULL;
}

napi_status hearth_init_isolation(napi_env env, napi_value exports) {
  napi_status s = hearth_export(env, exports, "enterSandbox", js_enter_sandbox);
  if (s != napi_ok) return s;
  return hearth_export(env, exports, "hideFromSiblings", js_hide_from_siblings);
}
