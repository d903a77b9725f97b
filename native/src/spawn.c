/* Process creation without forking Node: clone(CLONE_VM | CLONE_VFORK) runs a
 * short pre-exec routine on its own stack inside Node's address space, so no
 * page tables are copied and the calling thread is suspended only until the
 * child execs (the same technique as glibc's posix_spawn). Exit is observed
 * through the pidfd with a uv_poll_t, so no SIGCHLD handling is involved. */
#include "hearth.h"
#include "../sandbox/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#define CHILD_STACK_SIZE (64 * 1024)
/* cgroup.procs files a child joins: one per hierarchy (memory, pids). */
#define MAX_CGROUP_FDS 4
/* Kernel sigset size for rt_sigaction/rt_sigprocmask. */
#define KSIGSET_SIZE 8

/* The kernel's struct sigaction. The raw syscalls reach the signals glibc
 * reserves for itself (SIGCANCEL, SIGSETXID), which its wrappers refuse to
 * touch or block; a handler of the parent must never run in the child. */
#if defined(__x86_64__) || defined(__aarch64__)
struct ksigaction {
  void (*handler)(int);
  unsigned long flags;
  void (*restorer)(void);
  uint64_t mask;
};
#elif defined(__riscv)
struct ksigaction {
  void (*handler)(int);
  unsigned long flags;
  uint64_t mask;
};
#else
#error "hearth_native: define struct ksigaction for this architecture"
#endif

enum step {
  STEP_OK = 0,
  STEP_SIGACTION,
  STEP_SIGMASK,
  STEP_AFFINITY,
  STEP_SETSID,
  STEP_PDEATHSIG,
  STEP_PARENT_GONE,
  STEP_CGROUP,
  STEP_DUPFD,
  STEP_DUP2,
  STEP_SANDBOX,
  STEP_CHDIR,
  STEP_EXECVE,
};

static const char *const step_syscall[] = {
  [STEP_OK] = "spawn",
  [STEP_SIGACTION] = "rt_sigaction",
  [STEP_SIGMASK] = "rt_sigprocmask",
  [STEP_AFFINITY] = "sched_setaffinity",
  [STEP_SETSID] = "setsid",
  [STEP_PDEATHSIG] = "prctl",
  [STEP_PARENT_GONE] = "getppid",
  [STEP_CGROUP] = "write",
  [STEP_DUPFD] = "fcntl",
  [STEP_DUP2] = "dup2",
  [STEP_SANDBOX] = "sandbox",
  [STEP_CHDIR] = "chdir",
  [STEP_EXECVE] = "execve",
};

/* Everything the child needs, prepared by the parent: the child shares the
 * parent's memory and may not allocate or take locks. `err`/`step` are the
 * child's report back; the parent reads them after clone() returns. */
struct child_args {
  const char *file;
  char **argv;
  char **envp;
  const int *fds;
  int *tmp;
  int nfds;
  int fd_base;
  const char *cwd;
  int cgroup_fds[MAX_CGROUP_FDS];
  int ncgroup_fds;
  int pdeathsig;
  int setsid;
  pid_t parent_pid;
  /* The CPUs the child may run on, when has_cpus: not the spawning thread's, which it would
   * otherwise inherit (the runtime's main thread may be held to one CPU). */
  int has_cpus;
  cpu_set_t cpus;
  /* NULL: the child runs as the parent does (a seed, which sandboxes its
   * worker itself). */
  const struct hearth_sandbox *sandbox;
  volatile int err;
  volatile int step;
  /* The sandbox step that failed (a static string). */
  const char *volatile sandbox_step;
};

static __attribute__((noreturn)) void child_fail(struct child_args *a,
                                                 int step, int err) {
  a->err = err != 0 ? err : EIO;
  a->step = step;
  _exit(127);
}

static int child_main(void *arg) {
  struct child_args *a = arg;

  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct ksigaction old;
    if (syscall(SYS_rt_sigaction, sig, NULL, &old, KSIGSET_SIZE) != 0)
      continue; /* not a valid signal number on this kernel */
    if (old.handler == SIG_DFL) continue;
    struct ksigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.handler = SIG_DFL;
    if (syscall(SYS_rt_sigaction, sig, &dfl, NULL, KSIGSET_SIZE) != 0)
      child_fail(a, STEP_SIGACTION, errno);
  }

  uint64_t empty = 0;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, NULL, KSIGSET_SIZE) != 0)
    child_fail(a, STEP_SIGMASK, errno);

  if (a->has_cpus && sched_setaffinity(0, sizeof a->cpus, &a->cpus) != 0)
    child_fail(a, STEP_AFFINITY, errno);

  if (a->setsid && setsid() < 0) child_fail(a, STEP_SETSID, errno);

  if (a->pdeathsig > 0) {
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)a->pdeathsig, 0, 0, 0) != 0)
      child_fail(a, STEP_PDEATHSIG, errno);
    /* The parent may have died before the prctl took effect. */
    if (getppid() != a->parent_pid) child_fail(a, STEP_PARENT_GONE, ESRCH);
  }

  if (a->ncgroup_fds > 0) {
    char buf[24];
    char *p = buf + sizeof buf;
    unsigned long v = (unsigned long)getpid();
    do {
      *--p = (char)('0' + v % 10);
      v /= 10;
    } while (v != 0);
    size_t len = (size_t)(buf + sizeof buf - p);
    for (int i = 0; i < a->ncgroup_fds; i++) {
      ssize_t w;
      do w = write(a->cgroup_fds[i], p, len);
      while (w < 0 && errno == EINTR);
      if (w != (ssize_t)len) child_fail(a, STEP_CGROUP, w < 0 ? errno : EIO);
    }
  }

  /* Move every source above all targets first, so a dup2 into place can
   * never overwrite a source another slot still needs. */
  for (int i = 0; i < a->nfds; i++) {
    if (a->fds[i] < 0) continue;
    a->tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, a->fd_base);
    if (a->tmp[i] < 0) child_fail(a, STEP_DUPFD, errno);
  }
  for (int i = 0; i < a->nfds; i++) {
    if (a->fds[i] < 0) {
      close(i);
    } else if (dup2(a->tmp[i], i) < 0) {
      child_fail(a, STEP_DUP2, errno);
    }
  }
  /* Drop the temporaries and anything Node inherited without CLOEXEC: the
   * child gets exactly the fds it was given. Older kernels: the temporaries
   * are CLOEXEC anyway. */
  syscall(SYS_close_range, (unsigned)a->nfds, ~0U, 0U);

  if (a->sandbox != NULL) {
    const char *step = "sandbox";
    int err = hearth_sandbox_enter(a->sandbox, &step);
    if (err != 0) {
      a->sandbox_step = step;
      child_fail(a, STEP_SANDBOX, err);
    }
  }

  if (a->cwd != NULL && chdir(a->cwd) != 0) child_fail(a, STEP_CHDIR, errno);

  execve(a->file, a->argv, a->envp);
  child_fail(a, STEP_EXECVE, errno);
}

static void free_strv(char **v) {
  if (v == NULL) return;
  for (char **p = v; *p != NULL; p++) free(*p);
  free(v);
}

/* JS string[] -> NULL-terminated malloc'd char*[]; NULL with an exception
 * pending on failure. */
static char **get_strv(napi_env env, napi_value arr, const char *name) {
  bool is_array = false;
  uint32_t n = 0;
  char msg[96];
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array) {
    snprintf(msg, sizeof msg, "%s must be an array of strings", name);
    hearth_throw_type_error(env, msg);
    return NULL;
  }
  napi_get_array_length(env, arr, &n);
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (v == NULL) {
    hearth_throw_errno(env, ENOMEM, "malloc", name);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    snprintf(msg, sizeof msg, "%s[%u]", name, i);
    if (napi_get_element(env, arr, i, &el) != napi_ok) {
      hearth_throw_napi_failure(env, "napi_get_element");
      free_strv(v);
      return NULL;
    }
    if ((v[i] = hearth_arg_string(env, el, msg)) == NULL) {
      free_strv(v);
      return NULL;
    }
  }
  return v;
}

/* spawnRaw(file, argv, env, fds, cwd|null, cgroupProcsFds, pdeathsig, setsid,
 *          sandbox|null, cpus|null) */
static napi_value js_spawn(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 10) return hearth_throw_type_error(env, "spawn: expected 10 arguments");

  napi_value result = NULL;
  char *file = NULL, *cwd = NULL;
  char **cargv = NULL, **cenv = NULL;
  int *fds = NULL, *tmp = NULL;
  void *stack = NULL;
  int32_t pdeathsig;
  int cgroup_fds[MAX_CGROUP_FDS];
  uint32_t ncgroup_fds = 0;
  int do_setsid;
  struct hearth_sandbox sandbox;
  int sandboxed = 0;
  cpu_set_t cpus;
  int has_cpus = 0;
  uint32_t nfds = 0;
  bool is_array = false;
  napi_valuetype t;

  if ((file = hearth_arg_string(env, argv[0], "file")) == NULL) goto out;
  if ((cargv = get_strv(env, argv[1], "argv")) == NULL) goto out;
  if (cargv[0] == NULL) {
    hearth_throw_type_error(env, "argv must contain at least argv[0]");
    goto out;
  }
  if ((cenv = get_strv(env, argv[2], "env")) == NULL) goto out;

  if (napi_is_array(env, argv[3], &is_array) != napi_ok || !is_array) {
    hearth_throw_type_error(env, "fds must be an array of integers");
    goto out;
  }
  napi_get_array_length(env, argv[3], &nfds);
  if (nfds < 3 || nfds > 65536) {
    hearth_throw_range_error(env, "fds must have between 3 and 65536 entries");
    goto out;
  }
  fds = malloc(nfds * sizeof *fds);
  tmp = malloc(nfds * sizeof *tmp);
  if (fds == NULL || tmp == NULL) {
    hearth_throw_errno(env, ENOMEM, "malloc", "fds");
    goto out;
  }
  int max_src = -1;
  for (uint32_t i = 0; i < nfds; i++) {
    napi_value el;
    int32_t fd;
    if (napi_get_element(env, argv[3], i, &el) != napi_ok) {
      hearth_throw_napi_failure(env, "napi_get_element");
      goto out;
    }
    if (hearth_arg_int32(env, el, "fds entries", &fd) != 0) goto out;
    if (fd < -1) {
      hearth_throw_range_error(env, "fds entries must be >= -1");
      goto out;
    }
    fds[i] = fd;
    if (fd > max_src) max_src = fd;
  }

  if (napi_typeof(env, argv[4], &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined &&
      (cwd = hearth_arg_string(env, argv[4], "cwd")) == NULL)
    goto out;
  if (napi_is_array(env, argv[5], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[5], &ncgroup_fds) != napi_ok ||
      ncgroup_fds > MAX_CGROUP_FDS) {
    hearth_throw_type_error(env, "cgroupProcsFds must be an array of at most 4 fds");
    goto out;
  }
  for (uint32_t i = 0; i < ncgroup_fds; i++) {
    napi_value el;
    if (napi_get_element(env, argv[5], i, &el) != napi_ok) {
      hearth_throw_napi_failure(env, "napi_get_element");
      goto out;
    }
    if (hearth_arg_int32(env, el, "cgroupProcsFds entries", &cgroup_fds[i]) != 0) goto out;
  }
  if (hearth_arg_int32(env, argv[6], "pdeathsig", &pdeathsig) != 0 ||
      hearth_arg_bool(env, argv[7], "setsid", &do_setsid) != 0)
    goto out;
  if (pdeathsig < 0 || pdeathsig >= NSIG) {
    hearth_throw_range_error(env, "pdeathsig must be a signal number or 0");
    goto out;
  }
  if (napi_typeof(env, argv[8], &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined) {
    if (hearth_arg_sandbox(env, argv[8], &sandbox) != 0) goto out;
    sandbox.pdeathsig = pdeathsig;
    sandbox.parent = getpid();
    sandboxed = 1;
  }
  if (napi_typeof(env, argv[9], &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined) {
    if (hearth_arg_cpuset(env, argv[9], "cpus", &cpus) != 0) goto out;
    has_cpus = 1;
  }

  stack = malloc(CHILD_STACK_SIZE);
  if (stack == NULL) {
    hearth_throw_errno(env, ENOMEM, "malloc", "child stack");
    goto out;
  }

  struct child_args a = {
    .file = file,
    .argv = cargv,
    .envp = cenv,
    .fds = fds,
    .tmp = tmp,
    .nfds = (int)nfds,
    .fd_base = ((int)nfds > max_src ? (int)nfds : max_src) + 8,
    .cwd = cwd,
    .ncgroup_fds = (int)ncgroup_fds,
    .pdeathsig = pdeathsig,
    .setsid = do_setsid,
    .parent_pid = getpid(),
    .has_cpus = has_cpus,
    .sandbox = sandboxed ? &sandbox : NULL,
    .err = 0,
    .step = STEP_OK,
    .sandbox_step = NULL,
  };
  memcpy(a.cgroup_fds, cgroup_fds, sizeof(int) * ncgroup_fds);
  if (has_cpus) a.cpus = cpus;

  /* Block everything (including glibc's internal signals, hence the raw
   * syscall) so no parent handler runs on the child's stack before the
   * child has reset its dispositions. */
  uint64_t all = ~(uint64_t)0, saved;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &saved, KSIGSET_SIZE);
  int pidfd = -1;
  pid_t pid = clone(child_main, (char *)stack + CHILD_STACK_SIZE,
                    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &a, &pidfd);
  int clone_err = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, KSIGSET_SIZE);

  if (pid < 0) {
    hearth_throw_errno(env, clone_err, "clone", file);
    goto out;
  }

  if (a.step != STEP_OK) {
    /* The child has already called _exit (vfork semantics); reap it now so
     * a failed spawn leaves no zombie. */
    siginfo_t si;
    while (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 &&
           errno == EINTR) {
    }
    close(pidfd);
    char ebuf[128], msg[1024];
    const char *sys = a.step == STEP_SANDBOX ? a.sandbox_step : step_syscall[a.step];
    snprintf(msg, sizeof msg, "spawn %s: %s: %s", file, sys,
             strerror_r(a.err, ebuf, sizeof ebuf));
    napi_value error = hearth_make_errno_error(env, a.err, sys, msg, file);
    if (error != NULL) napi_throw(env, error);
    goto out;
  }

  napi_value obj, v;
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_create_int32(env, pid, &v) != napi_ok ||
      napi_set_named_property(env, obj, "pid", v) != napi_ok ||
      napi_create_int32(env, pidfd, &v) != napi_ok ||
      napi_set_named_property(env, obj, "pidfd", v) != napi_ok) {
    hearth_throw_napi_failure(env, "spawn result");
    goto out;
  }
  result = obj;

out:
  free(stack);
  free(file);
  free(cwd);
  free_strv(cargv);
  free_strv(cenv);
  free(fds);
  free(tmp);
  return result;
}

/* ---- exit watching ---- */

struct exit_watch {
  uv_poll_t poll; /* first: the handle pointer is the record pointer */
  napi_env env;
  napi_ref callback;
  napi_async_context async;
  int pidfd;
};

static void watch_closed(uv_handle_t *h) { free(h); }

static void watch_env_cleanup(void *arg);

/* Stop watching and release the pidfd. uv_close unregisters the fd from
 * epoll synchronously, so closing the fd right after is safe. */
static void watch_stop(struct exit_watch *w) {
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, watch_closed);
  close(w->pidfd);
  w->pidfd = -1;
}

static void watch_env_cleanup(void *arg) {
  struct exit_watch *w = arg;
  napi_delete_reference(w->env, w->callback);
  watch_stop(w);
}

static void on_pidfd(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  struct exit_watch *w = (struct exit_watch *)handle;
  napi_env env = w->env;
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int r;
  do r = waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
  while (r < 0 && errno == EINTR);
  /* Still running (spurious wakeup): keep polling. */
  if ((r == 0 && si.si_pid == 0) || (r < 0 && errno == EAGAIN)) return;

  int code = -1, sig = 0;
  if (r == 0) {
    if (si.si_code == CLD_EXITED) code = si.si_status;
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) sig = si.si_status;
  }
  /* r < 0 (someone else reaped it): report (null, null). */

  napi_remove_env_cleanup_hook(env, watch_env_cleanup, w);
  napi_ref ref = w->callback;
  napi_async_context async = w->async;
  watch_stop(w); /* frees w in the close callback: do not touch it after */

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, args[2];
  char sbuf[16];
  /* napi_make_callback needs an object receiver. */
  if (napi_get_reference_value(env, ref, &fn) == napi_ok && fn != NULL &&
      napi_get_global(env, &recv) == napi_ok) {
    if (code >= 0) napi_create_int32(env, code, &args[0]);
    else napi_get_null(env, &args[0]);
    if (sig > 0)
      napi_create_string_utf8(env, hearth_signal_name(sig, sbuf, sizeof sbuf),
                              NAPI_AUTO_LENGTH, &args[1]);
    else
      napi_get_null(env, &args[1]);
    napi_status s = napi_make_callback(env, async, recv, fn, 2, args, NULL);
    if (s == napi_pending_exception) {
      /* We are called from libuv, not from JS: nobody would see the
       * exception unless it is raised as an uncaught one. */
      napi_value exc;
      if (napi_get_and_clear_last_exception(env, &exc) == napi_ok)
        napi_fatal_exception(env, exc);
    }
  }
  napi_delete_reference(env, ref);
  napi_async_destroy(env, async);
  napi_close_handle_scope(env, scope);
}

/* watchExit(pidfd, onExit) */
static napi_value js_watch_exit(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t pidfd;
  napi_valuetype t = napi_undefined;
  if (argc < 2 || hearth_arg_int32(env, argv[0], "pidfd", &pidfd) != 0)
    return NULL;
  if (pidfd < 0) return hearth_throw_range_error(env, "pidfd must be >= 0");
  napi_typeof(env, argv[1], &t);
  if (t != napi_function)
    return hearth_throw_type_error(env, "onExit must be a function");

  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  struct exit_watch *w = calloc(1, sizeof *w);
  if (w == NULL) return hearth_throw_errno(env, ENOMEM, "malloc", "watchExit");
  w->env = env;
  w->pidfd = pidfd;

  int r = uv_poll_init(loop, &w->poll, pidfd);
  if (r != 0) {
    free(w);
    char ctx[32];
    snprintf(ctx, sizeof ctx, "pidfd %d", pidfd);
    return hearth_throw_errno(env, -r, "uv_poll_init", ctx);
  }
  napi_value resource, name;
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, "hearth.watchExit", NAPI_AUTO_LENGTH,
                              &name) != napi_ok ||
      napi_async_init(env, resource, name, &w->async) != napi_ok) {
    if (w->callback != NULL) napi_delete_reference(env, w->callback);
    /* The poll handle is initialised: it must go through uv_close. */
    uv_close((uv_handle_t *)&w->poll, watch_closed);
    hearth_throw_napi_failure(env, "watchExit setup");
    return NULL;
  }
  r = uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
  if (r != 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->async);
    uv_close((uv_handle_t *)&w->poll, watch_closed);
    char ctx[32];
    snprintf(ctx, sizeof ctx, "pidfd %d", pidfd);
    return hearth_throw_errno(env, -r, "uv_poll_start", ctx);
  }
  napi_add_env_cleanup_hook(env, watch_env_cleanup, w);
  return NULL;
}

napi_status hearth_init_spawn(napi_env env, napi_value exports) {
  napi_status s = hearth_export(env, exports, "spawn", js_spawn);
  if (s != napi_ok) return s;
  return hearth_export(env, exports, "watchExit", js_watch_exit);
}
