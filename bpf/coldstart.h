/* The contract between bpf/coldstart.bpf.c and its loader (agent/probes/coldstart.ts).
 * Little-endian x86-64; every field has a fixed offset, mirrored in agent/probes/events.ts. */
#ifndef HEARTH_COLDSTART_H
#define HEARTH_COLDSTART_H

/* Event types, in struct hearth_event.type. */
#define HEARTH_EV_FORK 1       /* a tracked process forked a new process: pid = child, ppid = parent */
#define HEARTH_EV_EXEC 2       /* a tracked process exec'd; comm is the new program's */
#define HEARTH_EV_EXIT 3       /* a tracked process exited; arg = wait status (code << 8 | signal) */
#define HEARTH_EV_STATE_MMAP 4 /* first mmap of fd 4 (the state fd) by a tracked process, when it returns; arg = length */
#define HEARTH_EV_IPC_WRITE 5  /* first write or writev to fd 3 (the IPC socket) by a tracked process since its exec; arg = bytes */
#define HEARTH_EV_MARK 6       /* a uprobe marker fired in a tracked process; cookie = marker, arg = its first argument */
#define HEARTH_EV_OOM 7        /* the OOM killer chose a tracked process */

/* Uprobe markers: the low 16 bits of a uprobe's bpf_cookie. */
#define HEARTH_MARK_GO_RUNTIME_MAIN 1 /* runtime.main entry: the Go runtime is up */
#define HEARTH_MARK_GO_INIT 2         /* first runtime.doInit1 (or doInit): package inits begin */
#define HEARTH_MARK_GO_MAIN_MAIN 3    /* main.main entry: package inits are done */
#define HEARTH_MARK_NODE_ENV 4        /* node::LoadEnvironment entry: Node's environment is loaded */
#define HEARTH_MARK_STATE_MAPPED 5    /* SDK: state mapped; arg = bytes */
#define HEARTH_MARK_READY 6           /* SDK: about to report ready */
#define HEARTH_MARK_INVOKE_START 7    /* SDK: an invocation starts; arg = its id */
#define HEARTH_MARK_INVOKE_END 8      /* SDK: an invocation ends; arg = its id */
#define HEARTH_MARK_NODE_MAIN 9       /* node::StartExecution entry: Node starts the main script (user code) */

/* Flags in the high bits of the cookie. */
#define HEARTH_COOKIE_MARKER_MASK 0xffffu
#define HEARTH_COOKIE_ONCE (1u << 16)    /* emit only the first hit per process */
#define HEARTH_COOKIE_GO_ABI (1u << 17)  /* first argument in RAX (Go register ABI), else RDI (C) */

/* Per-process "seen" bits in struct hearth_tracked.seen. */
#define HEARTH_SEEN_STATE_MMAP (1u << 0)
#define HEARTH_SEEN_IPC_WRITE (1u << 1)
#define HEARTH_SEEN_EXEC (1u << 2) /* exec'd while tracked: a worker program is starting */
/* bit (8 + marker) is set once a ONCE marker has fired (so ONCE works for markers 0..23); exec clears every other bit */
/* A worker is starting (its cold-start window) from its exec until it reports ready: its first
 * IPC write, or the SDK's ready marker, whichever is seen first. */
#define HEARTH_SEEN_READY (HEARTH_SEEN_IPC_WRITE | (1u << (8 + HEARTH_MARK_READY)))

#define HEARTH_STATE_FD 4
#define HEARTH_IPC_FD 3
#define HEARTH_MAX_TRACKED 65536

struct hearth_event {
  unsigned long long ts;   /* 0: bpf_ktime_get_ns(), CLOCK_MONOTONIC */
  unsigned int type;       /* 8 */
  unsigned int pid;        /* 12: tgid */
  unsigned int ppid;       /* 16: parent tgid (FORK), else 0 */
  unsigned int tid;        /* 20: the thread that hit the event */
  unsigned long long arg;  /* 24 */
  unsigned long long arg2; /* 32: MARK: the uprobe's cookie flags; EXIT: 1 if the OOM killer chose it */
  unsigned int cookie;     /* 40: MARK: marker id */
  unsigned int flags;      /* 44: reserved, 0 */
  char comm[16];           /* 48 */
};                         /* 64 bytes */

struct hearth_tracked {
  unsigned long long born; /* FORK timestamp, or when tracking began */
  unsigned int seen;       /* HEARTH_SEEN_* and ONCE-marker bits */
  unsigned int oom;        /* set by the OOM tracepoint, reported with EXIT */
};

/* Maps (bpf/coldstart.bpf.c): hearth_tracked (tgid -> struct hearth_tracked), hearth_roots
 * (tgid -> u8), hearth_events (ring buffer of struct hearth_event), hearth_stats (per-CPU u64). */

/* Counters in the hearth_stats per-CPU array map. */
#define HEARTH_STAT_EMITTED 0
#define HEARTH_STAT_DROPPED 1 /* ring buffer full: the event is lost, and counted here */
#define HEARTH_STAT_TRACK_FULL 2 /* the tracked map was full when a process was born */
#define HEARTH_STATS 4

#endif
