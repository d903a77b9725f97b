/* Probe markers: empty functions with stable, exported symbol names, so the
 * agent can attach uprobes to them in this .node file and timestamp a Node
 * worker's state mapping, readiness and each invocation. The arguments sit in
 * the ABI's argument registers at entry, where a uprobe reads them. */
#include "hearth.h"

#include <time.h>

#define HEARTH_MARKER __attribute__((noinline, noclone, used, visibility("default")))

HEARTH_MARKER void hearth_marker_state_mapped(uint64_t bytes) {
  (void)bytes;
  __asm__ volatile("" ::: "memory");
}

HEARTH_MARKER void hearth_marker_ready(void) {
  __asm__ volatile("" ::: "memory");
}

HEARTH_MARKER void hearth_marker_invoke_start(uint64_t id) {
  (void)id;
  __asm__ volatile("" ::: "memory");
}

HEARTH_MARKER void hearth_marker_invoke_end(uint64_t id) {
  (void)id;
  __asm__ volatile("" ::: "memory");
}

/* Markers sit on the invoke path: read the argument directly (no type
 * check beyond the N-API conversion) to keep the call cheap. */
static int marker_arg(napi_env env, napi_callback_info info, uint64_t *out) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t v = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int64(env, argv[0], &v) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "marker argument must be a number");
    return -1;
  }
  *out = (uint64_t)v;
  return 0;
}

/* The start-up markers return CLOCK_MONOTONIC nanoseconds read just before the marker, so
 * the SDK's timing test mode can compare its own clock with the agent's probe on the very
 * same call (the probe's own cost comes after the reading, not in it). */
static napi_value monotonic_now(napi_env env) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  napi_value result;
  if (napi_create_double(env, (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec, &result) != napi_ok) return NULL;
  return result;
}

static napi_value js_mark_state_mapped(napi_env env, napi_callback_info info) {
  uint64_t v;
  if (marker_arg(env, info, &v) != 0) return NULL;
  napi_value now = monotonic_now(env);
  hearth_marker_state_mapped(v);
  return now;
}

static napi_value js_mark_ready(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value now = monotonic_now(env);
  hearth_marker_ready();
  return now;
}

static napi_value js_mark_invoke_start(napi_env env, napi_callback_info info) {
  uint64_t v;
  if (marker_arg(env, info, &v) == 0) hearth_marker_invoke_start(v);
  return NULL;
}

static napi_value js_mark_invoke_end(napi_env env, napi_callback_info info) {
  uint64_t v;
  if (marker_arg(env, info, &v) == 0) hearth_marker_invoke_end(v);
  return NULL;
}

napi_status hearth_init_markers(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = hearth_export(env, exports, "markStateMapped", js_mark_state_mapped)) != napi_ok ||
      (s = hearth_export(env, exports, "markReady", js_mark_ready)) != napi_ok ||
      (s = hearth_export(env, exports, "markInvokeStart", js_mark_invoke_start)) != napi_ok)
    return s;
  return hearth_export(env, exports, "markInvokeEnd", js_mark_invoke_end);
}
