/* hearth-seed: a process started ahead of need that becomes a worker by exec.
 *
 * The runtime keeps a few seeds ready, each already in its own memory cgroup.
 * Joining a cgroup costs the joiner an RCU grace period (5-20 ms here) the
 * first time after a pause; a seed pays it before any request waits, and a
 * cold start is then one message and one execve: no fork, no cgroup move, and
 * the runtime's event loop is never blocked.
 *
 * Inherited: fd 0 /dev/null, fd 3 the control socket (a Unix stream socket),
 * fds 4 to 7 (optional) cgroup.procs files open for writing, one per cgroup
 * hierarchy the worker is limited by (memory, pids). Everything else the seed
 * needs arrives in one activation message.
 *
 * Seed -> runtime, one line each:
 *   "R\n"                 ready: in its cgroups, waiting
 *   "E<errno>:<step>\n"   a step failed (cgroup, recvmsg, message, fds, chdir,
 *                         execve, or a sandbox step: setgroups, setresgid,
 *                         setresuid, pdeathsig, parent, rlimit, no_new_privs,
 *                         seccomp); the seed then exits 127
 * Runtime -> seed: one activation message (one sendmsg), then it only listens.
 *   u32 length of the whole message, u32 magic 0x32445348 ("HSD2"), little-endian
 *   u32 uid, u32 gid            the worker's; 0xffffffff keeps the seed's own
 *   u32 nproc                   RLIMIT_NPROC; 0 leaves it
 *   u32 flags                   bit 0: the seccomp filter (sandbox.h), which
 *                               the seed installed when it started: an
 *                               activation without it is refused
 *   u8  nfds, u8 target[nfds]   the SCM_RIGHTS fds, in order, go to these fds
 *   u16 argc, u16 envc
 *   NUL-terminated strings: file, cwd ("" = stay), argv[argc], env[envc]
 * The seed installs the seccomp filter (with no_new_privs) before it reports
 * ready, so that a cold start does not wait for the kernel to compile it.
 * After placing the fds, it enters the rest of the worker sandbox
 * (native/sandbox/sandbox.h) and changes to cwd as the worker's user, then execs.
 * End of file on the control socket (the runtime closed it) means: exit 0.
 * On a successful execve the control socket closes (it is close-on-exec),
 * which is how the runtime learns that the exec happened.
 *
 * runtime/supervisor/seeds.ts writes the activation message. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../sandbox/sandbox.h"

#define CONTROL_FD 3
#define FIRST_CGROUP_FD 4
#define LAST_CGROUP_FD 7
#define MAGIC 0x32445348u
#define SANDBOX_HEADER 16
#define MAX_FDS 8
#define MAX_STRINGS 4096
#define HIGH_FD 100

static char message[256 * 1024];
static char *strings[MAX_STRINGS + 3];

static void report(int control, int err, const char *step) {
  char text[64];
  int n = snprintf(text, sizeof text, "E%d:%s\n", err, step);
  (void)!send(control, text, (size_t)n, MSG_NOSIGNAL);
}

static void fail(int control, int err, const char *step) {
  report(control, err, step);
  _exit(127);
}

static void join_cgroups(void) {
  char pid[16];
  int n = snprintf(pid, sizeof pid, "%d", getpid());
  for (int fd = FIRST_CGROUP_FD; fd <= LAST_CGROUP_FD; fd++) {
    if (fcntl(fd, F_GETFD) < 0) continue;
    if (write(fd, pid, (size_t)n) != n) fail(CONTROL_FD, errno, "cgroup");
    close(fd);
  }
}

static uint32_t read_u32(const unsigned char **p) {
  uint32_t value;
  memcpy(&value, *p, 4);
  *p += 4;
  return value;
}

/* Reads one activation message: the first read brings the fds and the length;
 * a stream socket may split the rest, so read until all of it is in. */
static ssize_t receive(int *fds, int *nfds) {
  struct iovec iov = { .iov_base = message, .iov_len = sizeof message };
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;
  ssize_t n;
  do n = recvmsg(CONTROL_FD, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) fail(CONTROL_FD, errno, "recvmsg");
  if (n == 0) return 0;
  if (msg.msg_flags & MSG_CTRUNC) fail(CONTROL_FD, EMSGSIZE, "fds");
  *nfds = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (*nfds + count > MAX_FDS) fail(CONTROL_FD, EMSGSIZE, "fds");
    memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * (size_t)count);
    *nfds += count;
  }
  uint32_t length;
  if (n < 4) fail(CONTROL_FD, EINVAL, "message");
  memcpy(&length, message, 4);
  if (length < 8 || length > sizeof message) fail(CONTROL_FD, EMSGSIZE, "message");
  while ((size_t)n < length) {
    ssize_t more = read(CONTROL_FD, message + n, length - (size_t)n);
    if (more < 0 && errno == EINTR) continue;
    if (more <= 0) fail(CONTROL_FD, more < 0 ? errno : EPIPE, "message");
    n += more;
  }
  if ((size_t)n != length) fail(CONTROL_FD, EINVAL, "message");
  return n;
}

/* What an activation message asks for; the pointers point into the message. */
struct activation {
  uint32_t uid, gid, nproc, flags; /* the sandbox header */
  const unsigned char *targets; /* nfds target fd numbers */
  const char *file;
  const char *cwd;
  char **argv; /* NULL-terminated */
  char **envp; /* NULL-terminated */
};

/* Parses message[0..length) (length already checked against the buffer),
 * bounds-checked: a short or inconsistent message is refused with -1. */
static int parse_activation(size_t length, int nfds, struct activation *out) {
  const unsigned char *p = (const unsigned char *)message + 4;
  const unsigned char *end = (const unsigned char *)message + length;
  if (length < 4 || end - p < 4 + SANDBOX_HEADER + 1) return -1;
  if (read_u32(&p) != MAGIC) return -1;
  out->uid = read_u32(&p);
  out->gid = read_u32(&p);
  out->nproc = read_u32(&p);
  out->flags = read_u32(&p);
  int count = *p++;
  if (count != nfds || end - p < count + 4) return -1;
  out->targets = p;
  p += count;
  uint16_t argc, envc;
  memcpy(&argc, p, 2);
  memcpy(&envc, p + 2, 2);
  p += 4;
  if ((size_t)argc + envc + 2 > MAX_STRINGS || argc == 0) return -1;
  size_t total = (size_t)argc + envc + 2;
  for (size_t i = 0; i < total; i++) {
    const unsigned char *nul = memchr(p, 0, (size_t)(end - p));
    if (nul == NULL) return -1;
    strings[i] = (char *)p;
    p = nul + 1;
  }
  out->file = strings[0];
  out->cwd = strings[1];
  out->argv = strings + 2;
  out->envp = strings + 2 + argc + 1;
  /* Shift env up one slot so argv gets its NULL terminator. */
  memmove(out->envp, strings + 2 + argc, sizeof(char *) * envc);
  out->argv[argc] = NULL;
  out->envp[envc] = NULL;
  return 0;
}

#ifndef HEARTH_SEED_NO_MAIN
int main(void) {
  pid_t runtime = getppid();
  join_cgroups();
  const char *step;
  int err = hearth_sandbox_filter(&step);
  if (err != 0) fail(CONTROL_FD, err, step);
  if (send(CONTROL_FD, "R\n", 2, MSG_NOSIGNAL) != 2) _exit(127);

  int fds[MAX_FDS];
  int nfds;
  ssize_t length = receive(fds, &nfds);
  if (length == 0) _exit(0);

  struct activation a;
  if (parse_activation((size_t)length, nfds, &a) != 0) fail(CONTROL_FD, EINVAL, "message");
  /* The filter is already in place (installed above); an activation that does not expect it is refused. */
  if (a.flags != HEARTH_SANDBOX_SECCOMP) fail(CONTROL_FD, EINVAL, "message");
  struct hearth_sandbox sandbox = { .pdeathsig = SIGKILL, .parent = runtime, .uid = a.uid, .gid = a.gid, .nproc = a.nproc, .flags = 0 };
  const unsigned char *targets = a.targets;
  const char *file = a.file;
  const char *cwd = a.cwd;
  char **argv = a.argv;
  char **envp = a.envp;

  /* Move the control socket out of the way, lift every received fd above
   * every target, then place each one; dup2 clears close-on-exec. */
  int control = fcntl(CONTROL_FD, F_DUPFD_CLOEXEC, HIGH_FD);
  if (control < 0) fail(CONTROL_FD, errno, "fds");
  close(CONTROL_FD);
  int highest = 0;
  for (int i = 0; i < nfds; i++) {
    int lifted = fcntl(fds[i], F_DUPFD_CLOEXEC, HIGH_FD + 1);
    if (lifted < 0) fail(control, errno, "fds");
    close(fds[i]);
    fds[i] = lifted;
    if (targets[i] > highest) highest = targets[i];
  }
  for (int i = 0; i < nfds; i++) {
    if (dup2(fds[i], targets[i]) < 0) fail(control, errno, "fds");
  }
  /* Everything else goes at exec, including the control socket. */
  if (close_range((unsigned)highest + 1, ~0u, CLOSE_RANGE_CLOEXEC) != 0) fail(control, errno, "fds");
  err = hearth_sandbox_enter(&sandbox, &step);
  if (err != 0) fail(control, err, step);
  if (cwd[0] != '\0' && chdir(cwd) != 0) fail(control, errno, "chdir");
  execve(file, argv, envp);
  fail(control, errno, "execve");
  return 127;
}
#endif
