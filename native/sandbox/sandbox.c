/* The worker sandbox (sandbox.h says where it runs and in what order) and its
 * seccomp filter.
 *
 * The filter is an allow-list: what Go's runtime, Node (V8 and libuv) and
 * glibc use, and what ordinary programs use to work with files, sockets,
 * memory, threads, time and their own signals. A call that is not on it
 * answers ENOSYS, as on a kernel without it (libraries fall back: glibc from
 * clone3 to clone, libuv from io_uring to its thread pool), so a system call
 * added to a later kernel is refused until it is reviewed. Calls that reach
 * other processes or the kernel's global state are refused with EPERM by name,
 * so a program (and a test) can tell a refusal from an absent call. Four
 * checks look at arguments:
 *   - kill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo: only to the worker
 *     itself (its pid is in the filter: the pid survives execve);
 *   - prlimit64: only on itself (pid 0 or its own);
 *   - clone: no CLONE_NEW* flag (no namespaces); clone3, whose flags the
 *     filter cannot read, answers ENOSYS so glibc and Go use clone;
 *   - any other architecture's system call (i386 through int 0x80, x32)
 *     kills the process.
 * SECURITY.md lists the refused calls and why. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* setresuid, setresgid */
#endif
#include "sandbox.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH_NATIVE AUDIT_ARCH_AARCH64
#else
#error "hearth sandbox: add this architecture's audit arch, and check clone's argument order"
#endif

/* Allowed whatever their arguments. The filter is a binary search over every
 * listed number (a dozen instructions for any call), and kernels from 5.11
 * cache the verdict of every call allowed whatever its arguments, computed
 * when the filter is installed by running it for each number: a linear list
 * of 300 calls made that take milliseconds. */
static const int allowed[] = {
  __NR_read, __NR_write, __NR_futex, __NR_epoll_pwait, __NR_readv, __NR_writev,
  __NR_recvmsg, __NR_sendmsg, __NR_recvfrom, __NR_sendto, __NR_clock_gettime,
  __NR_clock_nanosleep, __NR_nanosleep, __NR_sched_yield, __NR_getpid, __NR_gettid,
  __NR_mmap, __NR_munmap, __NR_madvise, __NR_mprotect, __NR_mremap, __NR_brk,
  __NR_rt_sigaction, __NR_rt_sigprocmask, __NR_rt_sigreturn, __NR_sigaltstack,
  __NR_close, __NR_openat, __NR_fstat, __NR_newfstatat, __NR_statx, __NR_lseek,
  __NR_pread64, __NR_pwrite64, __NR_preadv, __NR_pwritev, __NR_preadv2, __NR_pwritev2,
  __NR_fcntl, __NR_ioctl, __NR_dup, __NR_dup3, __NR_flock, __NR_fsync, __NR_fdatasync,
  __NR_sync, __NR_syncfs, __NR_sync_file_range, __NR_ftruncate, __NR_truncate,
  __NR_fallocate, __NR_fadvise64, __NR_readahead, __NR_sendfile, __NR_splice, __NR_tee,
  __NR_vmsplice, __NR_copy_file_range, __NR_faccessat, __NR_readlinkat,
  __NR_getdents64, __NR_getcwd, __NR_chdir, __NR_fchdir, __NR_statfs, __NR_fstatfs,
  __NR_mkdirat, __NR_unlinkat, __NR_renameat, __NR_renameat2, __NR_linkat,
  __NR_symlinkat, __NR_fchmod, __NR_fchmodat, __NR_fchown, __NR_fchownat, __NR_umask,
  __NR_utimensat, __NR_mknodat, __NR_getxattr, __NR_lgetxattr, __NR_fgetxattr,
  __NR_listxattr, __NR_llistxattr, __NR_flistxattr, __NR_setxattr, __NR_lsetxattr,
  __NR_fsetxattr, __NR_removexattr, __NR_lremovexattr, __NR_fremovexattr,
  __NR_mincore, __NR_msync, __NR_mlock, __NR_mlock2, __NR_munlock, __NR_mlockall,
  __NR_munlockall, __NR_memfd_create, __NR_membarrier, __NR_pkey_alloc,
  __NR_pkey_free, __NR_pkey_mprotect, __NR_ppoll, __NR_pselect6, __NR_epoll_create1,
  __NR_epoll_ctl, __NR_eventfd2, __NR_signalfd4, __NR_timerfd_create,
  __NR_timerfd_settime, __NR_timerfd_gettime, __NR_inotify_init1,
  __NR_inotify_add_watch, __NR_inotify_rm_watch, __NR_socket, __NR_socketpair,
  __NR_bind, __NR_connect, __NR_listen, __NR_accept, __NR_accept4, __NR_getsockname,
  __NR_getpeername, __NR_sendmmsg, __NR_recvmmsg, __NR_shutdown, __NR_setsockopt,
  __NR_getsockopt, __NR_pipe2, __NR_exit, __NR_exit_group, __NR_execve, __NR_execveat,
  __NR_wait4, __NR_waitid, __NR_getppid, __NR_getpgid, __NR_getsid, __NR_setsid,
  __NR_setpgid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid, __NR_getresuid,
  __NR_getresgid, __NR_getgroups, __NR_setuid, __NR_setgid, __NR_setreuid,
  __NR_setregid, __NR_setresuid, __NR_setresgid, __NR_setfsuid, __NR_setfsgid,
  __NR_setgroups, __NR_capget, __NR_capset, __NR_prctl, __NR_set_tid_address,
  __NR_set_robust_list, __NR_get_robust_list, __NR_personality, __NR_uname,
  __NR_sysinfo, __NR_getrusage, __NR_times, __NR_getrlimit, __NR_setrlimit,
  __NR_getpriority, __NR_setpriority, __NR_sched_getaffinity, __NR_sched_setaffinity,
  __NR_sched_getparam, __NR_sched_setparam, __NR_sched_getscheduler,
  __NR_sched_setscheduler, __NR_sched_get_priority_max, __NR_sched_get_priority_min,
  __NR_sched_rr_get_interval, __NR_sched_getattr, __NR_sched_setattr, __NR_getcpu,
  __NR_ioprio_get, __NR_ioprio_set, __NR_seccomp, __NR_rt_sigsuspend,
  __NR_rt_sigpending, __NR_rt_sigtimedwait, __NR_restart_syscall, __NR_gettimeofday,
  __NR_clock_getres, __NR_getitimer, __NR_setitimer, __NR_timer_create,
  __NR_timer_settime, __NR_timer_gettime, __NR_timer_getoverrun, __NR_timer_delete,
  __NR_getrandom,
#ifdef __x86_64__
  /* Calls that newer architectures replaced by the *at and p* forms above. */
  __NR_epoll_wait, __NR_poll, __NR_select, __NR_open, __NR_creat, __NR_stat, __NR_lstat,
  __NR_access, __NR_readlink, __NR_getdents, __NR_mkdir, __NR_rmdir, __NR_unlink,
  __NR_rename, __NR_link, __NR_symlink, __NR_chmod, __NR_chown, __NR_lchown,
  __NR_utime, __NR_utimes, __NR_futimesat, __NR_mknod, __NR_dup2, __NR_pipe,
  __NR_epoll_create, __NR_eventfd, __NR_signalfd, __NR_inotify_init, __NR_fork,
  __NR_vfork, __NR_getpgrp, __NR_pause, __NR_alarm, __NR_time, __NR_arch_prctl,
#endif
#ifdef __NR_rseq
  __NR_rseq,
#endif
#ifdef __NR_close_range
  __NR_close_range,
#endif
#ifdef __NR_openat2
  __NR_openat2,
#endif
#ifdef __NR_faccessat2
  __NR_faccessat2,
#endif
#ifdef __NR_fchmodat2
  __NR_fchmodat2,
#endif
#ifdef __NR_epoll_pwait2
  __NR_epoll_pwait2,
#endif
#ifdef __NR_pidfd_open
  __NR_pidfd_open,
#endif
#ifdef __NR_futex_waitv
  __NR_futex_waitv,
#endif
#ifdef __NR_futex_wake
  __NR_futex_wake, __NR_futex_wait, __NR_futex_requeue,
#endif
#ifdef __NR_landlock_create_ruleset
  __NR_landlock_create_ruleset, __NR_landlock_add_rule, __NR_landlock_restrict_self,
#endif
#ifdef __NR_memfd_secret
  __NR_memfd_secret,
#endif
#ifdef __NR_cachestat
  __NR_cachestat,
#endif
#ifdef __NR_map_shadow_stack
  __NR_map_shadow_stack,
#endif
#ifdef __NR_mseal
  __NR_mseal,
#endif
};

/* Refused with EPERM: they reach other processes (ptrace and its relatives,
 * signals by pidfd or thread id), the kernel's global state (modules, kexec,
 * reboot, clocks, host names, swap, accounting, quotas, the keyring, the
 * kernel log), mounts and namespaces, or kernel interfaces with a long history
 * of exploits that no function needs (bpf, perf_event_open, userfaultfd,
 * io_uring, file handles). */
static const int refused[] = {
  __NR_ptrace, __NR_process_vm_readv, __NR_process_vm_writev, __NR_kcmp, __NR_tkill,
  __NR_bpf, __NR_perf_event_open, __NR_userfaultfd, __NR_mount, __NR_umount2,
  __NR_pivot_root, __NR_chroot, __NR_unshare, __NR_setns, __NR_init_module,
  __NR_finit_module, __NR_delete_module, __NR_kexec_load, __NR_kexec_file_load,
  __NR_reboot, __NR_swapon, __NR_swapoff, __NR_acct, __NR_quotactl, __NR_keyctl,
  __NR_add_key, __NR_request_key, __NR_syslog, __NR_settimeofday, __NR_clock_settime,
  __NR_clock_adjtime, __NR_adjtimex, __NR_sethostname, __NR_setdomainname,
  __NR_vhangup, __NR_name_to_handle_at, __NR_open_by_handle_at, __NR_fanotify_init,
  __NR_io_uring_setup, __NR_io_uring_enter, __NR_io_uring_register,
#ifdef __x86_64__
  __NR_iopl, __NR_ioperm, __NR_modify_ldt,
#endif
#ifdef __NR_pidfd_send_signal
  __NR_pidfd_send_signal,
#endif
#ifdef __NR_pidfd_getfd
  __NR_pidfd_getfd,
#endif
#ifdef __NR_process_madvise
  __NR_process_madvise,
#endif
#ifdef __NR_process_mrelease
  __NR_process_mrelease,
#endif
#ifdef __NR_open_tree
  __NR_open_tree, __NR_move_mount, __NR_fsopen, __NR_fsconfig, __NR_fsmount, __NR_fspick,
#endif
#ifdef __NR_mount_setattr
  __NR_mount_setattr,
#endif
#ifdef __NR_quotactl_fd
  __NR_quotactl_fd,
#endif
};

/* Calls whose first argument is a pid that must be the worker's own. */
static const int to_self_only[] = { __NR_kill, __NR_tgkill, __NR_rt_sigqueueinfo, __NR_rt_tgsigqueueinfo };

#define NAMESPACE_FLAGS                                                                   \
  (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |         \
   CLONE_NEWPID | CLONE_NEWNET)

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* What the filter answers for one system call number. */
enum verdict { ALLOW, REFUSE, ABSENT, SELF_ONLY, SELF_OR_ZERO, NO_NAMESPACES };

/* Numbers lo..hi, all with the same verdict. */
struct rule {
  uint32_t lo, hi;
  enum verdict verdict;
};

/* Every listed call, plus clone3 (absent), prlimit64 and clone (checked). */
#define RULES (COUNT(allowed) + COUNT(refused) + COUNT(to_self_only) + 3)
/* Rules decided in one leaf of the tree, by a linear scan. */
#define LEAF_RULES 3
/* A rule takes at most 8 instructions, an inner node 2, a leaf 1 more, the preamble 6. */
#define MAX_INSNS (11 * RULES + 8)

#define OFFSET_NR offsetof(struct seccomp_data, nr)
#define OFFSET_ARCH offsetof(struct seccomp_data, arch)
/* The low 32 bits of argument 0 (pids and clone flags are 32-bit; the kernel
 * ignores the rest), on a little-endian machine. */
#define OFFSET_ARG0_LOW offsetof(struct seccomp_data, args[0])

#define ERRNO(e) (SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))

struct program {
  struct sock_filter insns[MAX_INSNS];
  unsigned length;
};

static void emit(struct program *p, struct sock_filter insn) {
  p->insns[p->length++] = insn;
}

static void stmt(struct program *p, uint16_t code, uint32_t k) {
  emit(p, (struct sock_filter)BPF_STMT(code, k));
}

static void jump(struct program *p, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) {
  emit(p, (struct sock_filter)BPF_JUMP(code, k, jt, jf));
}

/* How many instructions a verdict's action takes. */
static uint8_t action_length(enum verdict verdict) {
  switch (verdict) {
    case SELF_ONLY: case SELF_OR_ZERO: return 5;
    case NO_NAMESPACES: return 4;
    default: return 1;
  }
}

/* The action for a call whose number is in the accumulator; every path
 * returns, so an argument may be loaded over the number. */
static void emit_action(struct program *p, enum verdict verdict, uint32_t self) {
  switch (verdict) {
    case ALLOW: stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW); return;
    case REFUSE: stmt(p, BPF_RET | BPF_K, ERRNO(EPERM)); return;
    case ABSENT: stmt(p, BPF_RET | BPF_K, ERRNO(ENOSYS)); return;
    case SELF_ONLY:
    case SELF_OR_ZERO:
      stmt(p, BPF_LD | BPF_W | BPF_ABS, OFFSET_ARG0_LOW);
      jump(p, BPF_JMP | BPF_JEQ | BPF_K, self, 1, 0);
      jump(p, BPF_JMP | BPF_JEQ | BPF_K, verdict == SELF_OR_ZERO ? 0 : self, 0, 1);
      stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
      stmt(p, BPF_RET | BPF_K, ERRNO(EPERM));
      return;
    case NO_NAMESPACES:
      stmt(p, BPF_LD | BPF_W | BPF_ABS, OFFSET_ARG0_LOW);
      jump(p, BPF_JMP | BPF_JSET | BPF_K, NAMESPACE_FLAGS, 0, 1);
      stmt(p, BPF_RET | BPF_K, ERRNO(EPERM));
      stmt(p, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
      return;
  }
}

/* A binary search over the sorted rules, with the number in the accumulator.
 * Each inner node sends the numbers from its middle rule's up past the lower
 * half (with a long jump: cBPF's conditional jumps reach 255 instructions).
 * In a leaf, each rule is
 *   JGT hi  -> the next rule
 *   JGE lo  -> its action, else (a number between two rules) ENOSYS
 * and a number past the last rule is ENOSYS too: no rule names it. */
static void emit_tree(struct program *p, const struct rule *rules, size_t count, uint32_t self) {
  if (count <= LEAF_RULES) {
    for (size_t i = 0; i < count; i++) {
      uint8_t length = action_length(rules[i].verdict);
      jump(p, BPF_JMP | BPF_JGT | BPF_K, rules[i].hi, (uint8_t)(length + 2), 0);
      jump(p, BPF_JMP | BPF_JGE | BPF_K, rules[i].lo, 0, length);
      emit_action(p, rules[i].verdict, self);
      stmt(p, BPF_RET | BPF_K, ERRNO(ENOSYS));
    }
    stmt(p, BPF_RET | BPF_K, ERRNO(ENOSYS));
    return;
  }
  size_t half = count / 2;
  jump(p, BPF_JMP | BPF_JGE | BPF_K, rules[half].lo, 0, 1);
  unsigned over = p->length;
  stmt(p, BPF_JMP | BPF_JA, 0);
  emit_tree(p, rules, half, self);
  p->insns[over].k = p->length - (over + 1);
  emit_tree(p, rules + half, count - half, self);
}

/* Every rule, sorted and merged: neighbouring numbers with one plain verdict
 * (x86-64 allows long runs of them) become one rule. Returns how many. */
static size_t collect_rules(struct rule *rules) {
  size_t n = 0;
  for (size_t i = 0; i < COUNT(allowed); i++) rules[n++] = (struct rule){ (uint32_t)allowed[i], (uint32_t)allowed[i], ALLOW };
  for (size_t i = 0; i < COUNT(refused); i++) rules[n++] = (struct rule){ (uint32_t)refused[i], (uint32_t)refused[i], REFUSE };
  for (size_t i = 0; i < COUNT(to_self_only); i++) rules[n++] = (struct rule){ (uint32_t)to_self_only[i], (uint32_t)to_self_only[i], SELF_ONLY };
  rules[n++] = (struct rule){ __NR_prlimit64, __NR_prlimit64, SELF_OR_ZERO };
  rules[n++] = (struct rule){ __NR_clone, __NR_clone, NO_NAMESPACES };
  rules[n++] = (struct rule){ __NR_clone3, __NR_clone3, ABSENT };
  /* Shell sort: no allocation (this may run in a vfork child). */
  for (size_t gap = n / 2; gap > 0; gap /= 2) {
    for (size_t i = gap; i < n; i++) {
      struct rule r = rules[i];
      size_t j = i;
      for (; j >= gap && rules[j - gap].lo > r.lo; j -= gap) rules[j] = rules[j - gap];
      rules[j] = r;
    }
  }
  size_t merged = 0;
  for (size_t i = 0; i < n; i++) {
    struct rule *last = merged > 0 ? &rules[merged - 1] : NULL;
    int plain = action_length(rules[i].verdict) == 1;
    if (last != NULL && plain && last->verdict == rules[i].verdict && last->hi + 1 == rules[i].lo) last->hi = rules[i].hi;
    else rules[merged++] = rules[i];
  }
  return merged;
}

static void build_filter(struct program *p, uint32_t self) {
  struct rule rules[RULES];
  size_t count = collect_rules(rules);
  stmt(p, BPF_LD | BPF_W | BPF_ABS, OFFSET_ARCH);
  jump(p, BPF_JMP | BPF_JEQ | BPF_K, ARCH_NATIVE, 1, 0);
  stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  stmt(p, BPF_LD | BPF_W | BPF_ABS, OFFSET_NR);
#ifdef __x86_64__
  /* x32 system calls share the arch value and set bit 30 of the number. */
  jump(p, BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1);
  stmt(p, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
  emit_tree(p, rules, count, self);
}

int hearth_sandbox_filter(const char **step) {
  *step = "no_new_privs";
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  *step = "seccomp";
  struct program program;
  program.length = 0;
  build_filter(&program, (uint32_t)syscall(SYS_getpid));
  struct sock_fprog fprog = { .len = (unsigned short)program.length, .filter = program.insns };
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) return errno;
  return 0;
}

static int switch_ids(const struct hearth_sandbox *s, const char **step) {
  int all_threads = (s->flags & HEARTH_SANDBOX_ALL_THREADS) != 0;
  uid_t uid = s->uid == HEARTH_SANDBOX_KEEP_ID ? (uid_t)-1 : (uid_t)s->uid;
  gid_t gid = s->gid == HEARTH_SANDBOX_KEEP_ID ? (gid_t)-1 : (gid_t)s->gid;
  /* glibc's wrappers change every thread of the process; the raw calls only
   * the caller (and never touch memory a vfork parent shares). Each wrapper
   * signals every other thread and waits for all of them (about 0.25 ms for a
   * Node stem cell's ten other threads here): a stem cell dropped root's
   * groups when it started (hearth_sandbox_enter), so it skips that round. */
  *step = "setgroups";
  int has_groups = !all_threads || getgroups(0, NULL) != 0;
  if (has_groups && (all_threads ? setgroups(0, NULL) : syscall(SYS_setgroups, 0, NULL)) != 0) return errno;
  *step = "setresgid";
  if ((all_threads ? setresgid(gid, gid, gid) : syscall(SYS_setresgid, gid, gid, gid)) != 0) return errno;
  *step = "setresuid";
  if ((all_threads ? setresuid(uid, uid, uid) : syscall(SYS_setresuid, uid, uid, uid)) != 0) return errno;
  if (s->pdeathsig > 0) {
    *step = "pdeathsig";
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)s->pdeathsig, 0, 0, 0) != 0) return errno;
    *step = "parent";
    if (s->parent > 0 && getppid() != s->parent) return ESRCH;
  }
  return 0;
}

int hearth_sandbox_enter(const struct hearth_sandbox *s, const char **step) {
  if (s->uid != HEARTH_SANDBOX_KEEP_ID || s->gid != HEARTH_SANDBOX_KEEP_ID) {
    int err = switch_ids(s, step);
    if (err != 0) return err;
  } else if (!(s->flags & HEARTH_SANDBOX_ALL_THREADS) && syscall(SYS_geteuid) == 0) {
    /* Root's ids kept (a stem cell, until it is specialised): root's groups
     * are of no use to a worker. Best effort: without CAP_SETGID they stay,
     * and the specialisation clears them. */
    syscall(SYS_setgroups, 0, NULL);
  }
  *step = "rlimit";
  struct rlimit none = { 0, 0 };
  if (setrlimit(RLIMIT_CORE, &none) != 0) return errno;
  if (s->nproc > 0) {
    struct rlimit nproc = { s->nproc, s->nproc };
    if (setrlimit(RLIMIT_NPROC, &nproc) != 0) return errno;
  }
  if (s->flags & HEARTH_SANDBOX_SECCOMP) return hearth_sandbox_filter(step);
  *step = "no_new_privs";
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}
