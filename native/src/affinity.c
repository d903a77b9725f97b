/* CPU affinity of threads: the runtime co-locates itself and its workers on one CPU while
 * their load fits it (runtime/supervisor/colocation.ts), and gives them the host's CPUs
 * back when it does not. */
#include "hearth.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>

int hearth_arg_cpuset(napi_env env, napi_value v, const char *name, cpu_set_t *out) {
  bool is_array = false;
  uint32_t n = 0;
  char msg[96];
  if (napi_is_array(env, v, &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, v, &n) != napi_ok || n == 0) {
    snprintf(msg, sizeof msg, "%s must be a non-empty array of CPU numbers", name);
    hearth_throw_type_error(env, msg);
    return -1;
  }
  CPU_ZERO(out);
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    int32_t cpu;
    if (napi_get_element(env, v, i, &el) != napi_ok) {
      hearth_throw_napi_failure(env, "napi_get_element");
      return -1;
    }
    snprintf(msg, sizeof msg, "%s[%u]", name, i);
    if (hearth_arg_int32(env, el, msg, &cpu) != 0) return -1;
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      snprintf(msg, sizeof msg, "%s[%u] must be a CPU number from 0 to %d", name, i, CPU_SETSIZE - 1);
      hearth_throw_range_error(env, msg);
      return -1;
    }
    CPU_SET(cpu, out);
  }
  return 0;
}

/* setAffinity(tid, cpus): sched_setaffinity of one thread (0: the calling one). */
static napi_value js_set_affinity(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t tid;
  cpu_set_t set;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return hearth_throw_type_error(env, "setAffinity: expected 2 arguments");
  if (hearth_arg_int32(env, argv[0], "tid", &tid) != 0) return NULL;
  if (hearth_arg_cpuset(env, argv[1], "cpus", &set) != 0) return NULL;
  if (sched_setaffinity(tid, sizeof set, &set) != 0) {
    char context[32];
    snprintf(context, sizeof context, "thread %d", tid);
    return hearth_throw_errno(env, errno, "sched_setaffinity", context);
  }
  return NULL;
}

/* getAffinity(tid): the CPUs a thread may run on, ascending. */
static napi_value js_get_affinity(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, el;
  int32_t tid;
  cpu_set_t set;
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return hearth_throw_type_error(env, "getAffinity: expected 1 argument");
  if (hearth_arg_int32(env, argv[0], "tid", &tid) != 0) return NULL;
  if (sched_getaffinity(tid, sizeof set, &set) != 0) {
    char context[32];
    snprintf(context, sizeof context, "thread %d", tid);
    return hearth_throw_errno(env, errno, "sched_getaffinity", context);
  }
  NAPI_CALL(env, napi_create_array(env, &result));
  uint32_t n = 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &set)) continue;
    NAPI_CALL(env, napi_create_int32(env, cpu, &el));
    NAPI_CALL(env, napi_set_element(env, result, n++, el));
  }
  return result;
}

/* currentCpu(): the CPU the calling thread runs on now. */
static napi_value js_current_cpu(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  int cpu = sched_getcpu();
  if (cpu < 0) return hearth_throw_errno(env, errno, "sched_getcpu", NULL);
  NAPI_CALL(env, napi_create_int32(env, cpu, &result));
  return result;
}

napi_status hearth_init_affinity(napi_env env, napi_value exports) {
  napi_status status;
  if ((status = hearth_export(env, exports, "setAffinity", js_set_affinity)) != napi_ok) return status;
  if ((status = hearth_export(env, exports, "getAffinity", js_get_affinity)) != napi_ok) return status;
  return hearth_export(env, exports, "currentCpu", js_current_cpu);
}
