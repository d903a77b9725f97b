/* The worker sandbox: what every worker process enters before it runs a
 * function's code. One implementation, compiled into the seed, the native
 * spawn helper's child (in a CLONE_VM|CLONE_VFORK child, before execve) and
 * the addon (a Node stem cell, at specialisation, with other threads running).
 *
 * In order: supplementary groups cleared and the function's gid and uid taken
 * (when asked; a process that keeps root's ids only loses root's groups), the parent-death signal armed again (a credential change
 * clears it), no core dumps (a core would hold the state and the requests), the
 * process limit (RLIMIT_NPROC, when no pids cgroup holds the worker),
 * no_new_privs, and the seccomp filter (when asked). SECURITY.md says why each.
 *
 * The filter can come first: it allows what the other steps and execve need.
 * A seed installs it when it starts (hearth_sandbox_filter), so that
 * compiling it (a few hundred microseconds in the kernel) is not part of a
 * cold start; the processes a seed starts (workers, stem cells) inherit it.
 *
 * Every step is a raw system call on the calling task unless
 * HEARTH_SANDBOX_ALL_THREADS is set: the seed is single-threaded, and the
 * spawn helper's child shares Node's memory, so it may neither allocate, take
 * a lock, nor let glibc broadcast a set*id call to Node's threads. */
#ifndef HEARTH_SANDBOX_H
#define HEARTH_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>

/* uid or gid meaning "keep the current one". */
#define HEARTH_SANDBOX_KEEP_ID UINT32_MAX

enum {
  /* Install the worker seccomp filter (hearth_sandbox_filter). */
  HEARTH_SANDBOX_SECCOMP = 1u << 0,
  /* The caller has other threads: glibc's set*id wrappers, which change every
   * thread, instead of raw per-task calls. It cannot install the filter:
   * a multi-threaded process gets it from the process that exec'd it. */
  HEARTH_SANDBOX_ALL_THREADS = 1u << 1,
};

struct hearth_sandbox {
  uint32_t uid;
  uint32_t gid;
  /* RLIMIT_NPROC for the worker's uid; 0 leaves it as it is. */
  uint32_t nproc;
  uint32_t flags;
  /* Re-armed after a uid or gid change; 0: none. */
  int pdeathsig;
  /* The parent the death signal watches; if getppid() is no longer it, the
   * parent died before the signal was armed and the step fails (ESRCH). 0:
   * not checked. */
  pid_t parent;
};

/* Enters the sandbox. Returns 0, or an errno with *step naming what failed
 * ("setgroups", "setresgid", "setresuid", "pdeathsig", "parent", "rlimit",
 * "no_new_privs", "seccomp"). */
int hearth_sandbox_enter(const struct hearth_sandbox *sandbox, const char **step);

/* no_new_privs and the seccomp filter, for the calling task and what it
 * starts from now on; the filter lets through only this process's own pid
 * for signals, and the pid survives execve. Returns 0 or an errno, with
 * *step as above. */
int hearth_sandbox_filter(const char **step);

#endif
