// SPDX-License-Identifier: GPL-2.0
/* Kernel side of the cold-start phases: follows the runtime's descendants (fork, exec,
 * exit, OOM), notes the first state mmap and the first IPC write of each worker, and fires
 * uprobe markers. Events and maps are defined in coldstart.h.
 * Every program must stay cheap for the untracked rest of the system: it returns after a
 * few compares and at most one or two hash lookups unless the process is one of ours. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* The loader parses events at fixed offsets; fail the build if the layout drifts. */
_Static_assert(sizeof(struct hearth_event) == 64, "hearth_event is 64 bytes");
_Static_assert(__builtin_offsetof(struct hearth_event, arg) == 24, "hearth_event.arg at 24");
_Static_assert(__builtin_offsetof(struct hearth_event, cookie) == 40, "hearth_event.cookie at 40");
_Static_assert(__builtin_offsetof(struct hearth_event, comm) == 48, "hearth_event.comm at 48");
_Static_assert(sizeof(struct hearth_tracked) == 16, "hearth_tracked is 16 bytes");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, __u32);
  __type(value, __u8);
} hearth_roots SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} hearth_events SEC(".maps");

HEARTH_COUNTERS(hearth_stats, HEARTH_STATS);

/* sched_process_exit gained `bool group_dead` in 6.16. Libbpf's compatibility check on a
 * function prototype compares the argument count, so this flavour only exists on kernels
 * that pass the flag. */
typedef void (*btf_trace_sched_process_exit___group_dead)(void *, struct task_struct *, bool);

static __always_inline void stat_inc(__u32 idx)
{
  counter_inc(&hearth_stats, idx);
}

static __always_inline __u32 current_tgid(void)
{
  return bpf_get_current_pid_tgid() >> 32;
}

/* Reserve, fill every field and submit one event. comm_task == NULL means current's comm. */
static __always_inline void emit(__u32 type, __u32 pid, __u32 ppid, __u64 arg, __u64 arg2,
                                 __u32 cookie, struct task_struct *comm_task)
{
  struct hearth_event *e = bpf_ringbuf_reserve(&hearth_events, sizeof(*e), 0);

  if (!e) {
    stat_inc(HEARTH_STAT_DROPPED);
    return;
  }
  e->ts = bpf_ktime_get_ns();
  e->type = type;
  e->pid = pid;
  e->ppid = ppid;
  e->tid = (__u32)bpf_get_current_pid_tgid();
  e->arg = arg;
  e->arg2 = arg2;
  e->cookie = cookie;
  e->flags = 0;
  if (comm_task) {
    if (bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), &comm_task->comm) < 0)
      __builtin_memset(e->comm, 0, sizeof(e->comm));
  } else if (bpf_get_current_comm(e->comm, sizeof(e->comm)) < 0) {
    __builtin_memset(e->comm, 0, sizeof(e->comm));
  }
  /* No wakeup: the agent drains on its own timer and never waits on the ring, and the
   * notification is an irq_work, a self-IPI that traps to the hypervisor on a VM. */
  bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
  stat_inc(HEARTH_STAT_EMITTED);
}

/* Sets `bit` in the process's seen mask; true if this call set it. Plain read-modify-write:
 * two threads of one worker racing on the same first event can both win and emit twice;
 * user space keeps the first. */
static __always_inline bool first_time(struct hearth_tracked *t, __u32 bit)
{
  if (t->seen & bit)
    return false;
  t->seen |= bit;
  return true;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
  __u32 ptgid, ctgid, cpid;

  cpid = BPF_CORE_READ(child, pid);
  ctgid = BPF_CORE_READ(child, tgid);
  if (cpid != ctgid) /* a new thread, not a new process */
    return 0;
  ptgid = BPF_CORE_READ(parent, tgid);
  if (!bpf_map_lookup_elem(&hearth_roots, &ptgid) && !bpf_map_lookup_elem(&hearth_tracked, &ptgid))
    return 0;

  struct hearth_tracked t = { .born = bpf_ktime_get_ns() };
  /* BPF_ANY: an entry already under this tgid is stale (its exit was missed) and the new
   * process replaces it. The only failure left is a full map. */
  if (bpf_map_update_elem(&hearth_tracked, &ctgid, &t, BPF_ANY)) {
    stat_inc(HEARTH_STAT_TRACK_FULL);
    return 0; /* no FORK for a process whose EXIT we could not report */
  }
  emit(HEARTH_EV_FORK, ctgid, ptgid, 0, 0, 0, child);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
  __u32 tgid = BPF_CORE_READ(p, tgid);
  struct hearth_tracked *t;

  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t)
    return 0;
  /* A new program starts over: a seed wrote on fd 3 before it exec'd the worker, whose own
   * first write (its READY) is the one that counts. */
  t->seen = HEARTH_SEEN_EXEC;
  emit(HEARTH_EV_EXEC, tgid, 0, 0, 0, 0, NULL); /* current's comm is already the new one */
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
  __u32 tgid = BPF_CORE_READ(p, tgid);
  struct hearth_tracked *t;
  bool group_dead;
  __u64 oom;

  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t)
    return 0;
  /* Only the thread that takes signal->live to zero ends the process. Where the tracepoint
   * passes that result (group_dead) it is exact; older kernels decrement live before the
   * tracepoint too, but two threads exiting at once can both read 0 there, so the delete
   * below also decides who reports. */
  if (bpf_core_type_exists(btf_trace_sched_process_exit___group_dead))
    group_dead = (bool)ctx[1];
  else
    group_dead = BPF_CORE_READ(p, signal, live.counter) == 0;
  if (!group_dead)
    return 0;

  oom = t->oom; /* read before delete: the element can be reused right after */
  if (bpf_map_delete_elem(&hearth_tracked, &tgid))
    return 0; /* another exiting thread already reported this process */
  emit(HEARTH_EV_EXIT, tgid, 0, (__u64)BPF_CORE_READ(p, exit_code), oom, 0, NULL);
  return 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(handle_oom, struct task_struct *task, uid_t uid)
{
  __u32 tgid = BPF_CORE_READ(task, tgid);
  struct hearth_tracked *t;

  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t)
    return 0;
  t->oom = 1;
  /* current is the task whose allocation failed, not necessarily the victim */
  emit(HEARTH_EV_OOM, tgid, 0, 0, 0, 0, task);
  return 0;
}

/* x86-64 syscall numbers (this object is built for x86 only). */
#define NR_write 1
#define NR_mmap 9
#define NR_writev 20

/* Bytes in a writev's vector, so IPC_WRITE.arg means bytes for write and writev alike.
 * Bounded: a longer vector reports the sum of its first HEARTH_IOV_MAX entries. */
#define HEARTH_IOV_MAX 16
static __always_inline __u64 iov_bytes(const struct iovec *vec, __u64 vlen)
{
  __u64 total = 0;

  for (int i = 0; i < HEARTH_IOV_MAX; i++) {
    struct iovec iov;

    if (i >= vlen || bpf_probe_read_user(&iov, sizeof(iov), &vec[i]))
      break;
    total += iov.iov_len;
  }
  return total;
}

/* The first IPC write is caught at syscall entry (the worker says it is ready), the first
 * state mmap at syscall exit (the state is mapped: mapping 1 GiB can take a while, and the
 * while is part of the phase before). fentry/fexit on ksys_mmap_pgoff/ksys_write/do_writev
 * would cost less, but some hosts refuse fentry programs at load (EPERM, before the verifier
 * runs) and kernels without CONFIG_KPROBES have no kprobes; the raw sys_enter and sys_exit
 * tracepoints are always there and need no tracefs. They run for every syscall of every
 * process, so the untracked path is a syscall-number compare, an fd compare, and only then
 * the hash lookup.
 * Arguments are the user registers: rdi, rsi, rdx, r10, r8, r9; they are still in pt_regs at
 * exit, with the syscall number in orig_ax. A 32-bit (ia32) process uses other numbers and
 * registers; Hearth workers are 64-bit. */
SEC("tp_btf/sys_enter")
int BPF_PROG(handle_sys_enter, struct pt_regs *regs, long id)
{
  struct hearth_tracked *t;
  __u32 tgid;
  __u64 amount;

  if (id != NR_write && id != NR_writev)
    return 0;
  if ((int)regs->di != HEARTH_IPC_FD)
    return 0;
  tgid = current_tgid();
  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t || !first_time(t, HEARTH_SEEN_IPC_WRITE))
    return 0;
  if (id == NR_write)
    amount = regs->dx; /* count */
  else
    amount = iov_bytes((const struct iovec *)regs->si, regs->dx);
  emit(HEARTH_EV_IPC_WRITE, tgid, 0, amount, 0, 0, NULL);
  return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
  struct hearth_tracked *t;
  __u32 tgid;

  if (regs->orig_ax != NR_mmap || (int)regs->r8 != HEARTH_STATE_FD)
    return 0;
  /* A failed mmap maps nothing: -4095..-1 are errors. */
  if ((unsigned long)ret >= (unsigned long)-4095)
    return 0;
  tgid = current_tgid();
  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t || !first_time(t, HEARTH_SEEN_STATE_MMAP))
    return 0;
  emit(HEARTH_EV_STATE_MMAP, tgid, 0, regs->si /* length */, 0, 0, NULL);
  return 0;
}

/* One program for every marker: user space attaches it at each (binary, offset) with the
 * marker id and flags in the bpf_cookie. Entry probes only: a uretprobe rewrites the return
 * address on the stack, which breaks Go's moving goroutine stacks. */
SEC("uprobe")
int handle_marker(struct pt_regs *ctx)
{
  __u64 cookie = bpf_get_attach_cookie(ctx);
  __u32 marker = cookie & HEARTH_COOKIE_MARKER_MASK;
  __u32 flags = cookie & ~(__u64)HEARTH_COOKIE_MARKER_MASK;
  struct hearth_tracked *t;
  __u32 tgid = current_tgid();
  __u64 arg;

  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t)
    return 0;
  /* `seen` has room for markers 0..23; a higher marker with ONCE fires every time. */
  if ((flags & HEARTH_COOKIE_ONCE) && marker < 24 && !first_time(t, 1u << (8 + marker)))
    return 0;
  /* Go's register ABI passes the first integer argument in RAX, C in RDI. Both are loaded
   * and pinned first: clang would otherwise merge the two loads into one at a variable
   * context offset, which the verifier rejects. */
  __u64 rax = PT_REGS_RC(ctx), rdi = PT_REGS_PARM1(ctx);
  barrier_var(rax);
  barrier_var(rdi);
  arg = (flags & HEARTH_COOKIE_GO_ABI) ? rax : rdi;
  emit(HEARTH_EV_MARK, tgid, 0, arg, flags, marker, NULL);
  return 0;
}
