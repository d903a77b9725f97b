/* Unix socketpairs and fd passing (SCM_RIGHTS): a state fd travels to a stem
 * cell with its SPECIALISE frame, and a worker's fds to the seed that becomes
 * it. Node's net module can neither send nor receive SCM_RIGHTS. */
#include "hearth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The most fds one message carries: a worker's output, IPC and state fds. */
#define MAX_PASSED_FDS 8

/* socketpair() -> [fd, fd]: AF_UNIX, SOCK_STREAM, both ends close-on-exec. */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return hearth_throw_errno(env, errno, "socketpair", NULL);
  napi_value arr, a, b;
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_create_int32(env, sv[0], &a) != napi_ok ||
      napi_create_int32(env, sv[1], &b) != napi_ok ||
      napi_set_element(env, arr, 0, a) != napi_ok ||
      napi_set_element(env, arr, 1, b) != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    hearth_throw_napi_failure(env, "socketpair result");
    return NULL;
  }
  return arr;
}

/* sendWithFds(sock, data: Uint8Array, fds: number[]) — one sendmsg carrying
 * the bytes and the fds (none when the array is empty). */
static napi_value js_send_with_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock;
  if (argc < 3 || hearth_arg_int32(env, argv[0], "sock", &sock) != 0) return NULL;

  bool is_ta = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[1], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL,
                               NULL) != napi_ok ||
      type != napi_uint8_array)
    return hearth_throw_type_error(env, "data must be a Uint8Array");
  if (length == 0)
    return hearth_throw_range_error(env, "data must not be empty: a socket "
                                         "cannot carry fds alone");

  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[2], &count) != napi_ok)
    return hearth_throw_type_error(env, "fds must be an array of fds");
  if (count > MAX_PASSED_FDS)
    return hearth_throw_range_error(env, "too many fds for one message");
  int fds[MAX_PASSED_FDS];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    int32_t fd;
    if (napi_get_element(env, argv[2], i, &item) != napi_ok ||
        hearth_arg_int32(env, item, "fds[i]", &fd) != 0)
      return NULL;
    if (fd < 0) return hearth_throw_range_error(env, "fds must be open fds");
    fds[i] = fd;
  }

  struct iovec iov = { .iov_base = data, .iov_len = length };
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED_FDS)];
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (count > 0) {
    memset(&ctl, 0, sizeof ctl);
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * count);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
  }

  ssize_t n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  char ctx[48];
  snprintf(ctx, sizeof ctx, "socket %d, %u fds", sock, count);
  if (n < 0) return hearth_throw_errno(env, errno, "sendmsg", ctx);
  if ((size_t)n != length) {
    /* Part of the message (and the fds) went out: the stream is now out of
     * frame, which the caller must treat as a broken channel. */
    char m[160];
    snprintf(m, sizeof m, "sendmsg: short send (%zd of %zu bytes) (%s)", n,
             length, ctx);
    napi_value code, text, error, sent;
    if (napi_create_string_utf8(env, "ERR_SHORT_SEND", NAPI_AUTO_LENGTH,
                                &code) == napi_ok &&
        napi_create_string_utf8(env, m, NAPI_AUTO_LENGTH, &text) == napi_ok &&
        napi_create_error(env, code, text, &error) == napi_ok) {
      if (napi_create_int64(env, n, &sent) == napi_ok)
        napi_set_named_property(env, error, "bytesSent", sent);
      napi_value sys;
      if (napi_create_string_utf8(env, "sendmsg", NAPI_AUTO_LENGTH, &sys) ==
          napi_ok)
        napi_set_named_property(env, error, "syscall", sys);
      napi_throw(env, error);
    }
    return NULL;
  }
  return NULL;
}

/* recvWithFd(sock, maxBytes) -> { data: Buffer, fd } — blocks. */
static napi_value js_recv_with_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t sock, max;
  if (argc < 2 || hearth_arg_int32(env, argv[0], "sock", &sock) != 0 ||
      hearth_arg_int32(env, argv[1], "maxBytes", &max) != 0)
    return NULL;
  if (max <= 0) return hearth_throw_range_error(env, "maxBytes must be > 0");

  char ctx[32];
  snprintf(ctx, sizeof ctx, "socket %d", sock);
  /* The socket may also belong to a libuv stream (non-blocking); this call
   * is meant to wait, so block for its duration only. */
  int flags = fcntl(sock, F_GETFL);
  if (flags < 0) return hearth_throw_errno(env, errno, "fcntl", ctx);
  if ((flags & O_NONBLOCK) && fcntl(sock, F_SETFL, flags & ~O_NONBLOCK) < 0)
    return hearth_throw_errno(env, errno, "fcntl", ctx);

  void *buf = malloc((size_t)max);
  if (buf == NULL) {
    if (flags & O_NONBLOCK) fcntl(sock, F_SETFL, flags);
    return hearth_throw_errno(env, ENOMEM, "malloc", ctx);
  }
  struct iovec iov = { .iov_base = buf, .iov_len = (size_t)max };
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } ctl;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  memset(&ctl, 0, sizeof ctl);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl.buf;
  msg.msg_controllen = sizeof ctl.buf;

  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  int err = errno;
  if (flags & O_NONBLOCK) fcntl(sock, F_SETFL, flags);
  if (n < 0) {
    free(buf);
    return hearth_throw_errno(env, err, "recvmsg", ctx);
  }

  int fd = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
        c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      /* Room was made for one fd; with MSG_CTRUNC the kernel has already
       * closed any extra ones. */
      size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      int *p = (int *)(void *)CMSG_DATA(c);
      for (size_t i = 0; i < nfd; i++) {
        int got;
        memcpy(&got, p + i, sizeof got);
        if (fd < 0) fd = got;
        else close(got);
      }
    }
  }

  napi_value obj, data, fdv;
  if (napi_create_buffer_copy(env, (size_t)n, buf, NULL, &data) != napi_ok ||
      napi_create_object(env, &obj) != napi_ok ||
      napi_create_int32(env, fd, &fdv) != napi_ok ||
      napi_set_named_property(env, obj, "data", data) != napi_ok ||
      napi_set_named_property(env, obj, "fd", fdv) != napi_ok) {
    free(buf);
    if (fd >= 0) close(fd);
    hearth_throw_napi_failure(env, "recvWithFd result");
    return NULL;
  }
  free(buf);
  return obj;
}

napi_status hearth_init_fdpass(napi_env env, napi_value exports) {
  napi_status s;
  if ((s = hearth_export(env, exports, "socketpair", js_socketpair)) != napi_ok ||
      (s = hearth_export(env, exports, "sendWithFds", js_send_with_fds)) != napi_ok)
    return s;
  return hearth_export(env, exports, "recvWithFd", js_recv_with_fd);
}
