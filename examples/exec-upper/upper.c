/*
 * exec-upper: a Hearth `exec` function written in plain C, with no SDK.
 *
 * It speaks the Hearth worker protocol, version 1 (runtime/ipc/PROTOCOL.md),
 * with nothing but read(2) and write(2) on the socket the runtime passes, and
 * is the reference for writing a worker in any language: announce READY,
 * answer every INVOKE with exactly one RESULT or ERROR under the same id,
 * reply to CONTROL, exit 0 on SHUTDOWN or SIGTERM, exit 1 on anything that
 * breaks the protocol.
 *
 * Each request body comes back upper-cased (ASCII). When the function has
 * state (HEARTH_STATE_FD), a body "state:OFFSET:LEN" returns those bytes of
 * the state instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* Frames (PROTOCOL.md, "Frames"): a 16-byte header, then `length` payload
 * bytes; all integers little-endian.
 *   0  u32 length   4  u8 type   5  u8 flags (0)   6  u16 reserved (0)   8  u64 id */
#define HEADER_SIZE 16
#define MAX_PAYLOAD (64u << 20)
#define PROTOCOL_VERSION 1

enum {
	T_READY = 1,         /* worker -> runtime */
	T_INVOKE = 2,        /* runtime -> worker: u32 timeoutMs, u32 reserved, body */
	T_RESULT = 3,        /* worker -> runtime */
	T_ERROR = 4,         /* worker -> runtime: JSON {errorType, errorMessage} */
	T_CONTROL = 5,       /* runtime -> worker: JSON {"op": ...} */
	T_CONTROL_REPLY = 6, /* worker -> runtime */
	T_SPECIALISE = 7,    /* runtime -> stem cell only */
	T_SHUTDOWN = 8,      /* runtime -> worker */
};

#define SDK_NAME "c/exec-upper"

static int ipc_fd = 3;
static const unsigned char *state;
static uint64_t state_size;
static int has_state;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("exec-upper: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void put_u16(unsigned char *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = v >> (8 * i); }
static void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = v >> (8 * i); }
static uint16_t get_u16(const unsigned char *p) { return p[0] | p[1] << 8; }
static uint32_t get_u32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get_u64(const unsigned char *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* ---- reading: SIGTERM stays blocked except while waiting for a new frame,
 * so it is acted on only between frames (after the in-flight one). */

static volatile sig_atomic_t got_sigterm;
static sigset_t wait_mask; /* the mask while idle: SIGTERM unblocked */

static void on_sigterm(int sig) { (void)sig; got_sigterm = 1; }

static unsigned char rbuf[64 * 1024];
static size_t rpos, rlen;

/* Waits until the socket is readable or SIGTERM arrives (then exits 0). */
static void wait_readable(void)
{
	struct pollfd p = {.fd = ipc_fd, .events = POLLIN};
	for (;;) {
		if (got_sigterm)
			exit(0);
		if (ppoll(&p, 1, NULL, &wait_mask) >= 0)
			return;
		if (errno != EINTR)
			die("poll on IPC fd %d: %s", ipc_fd, strerror(errno));
	}
}

/* Reads exactly n bytes. at_boundary: this is the start of a frame, where
 * EOF means the runtime closed the channel and SIGTERM may end the worker. */
static void read_full(void *dst, size_t n, int at_boundary)
{
	unsigned char *d = dst;
	while (n > 0) {
		if (rpos == rlen) {
			if (at_boundary)
				wait_readable();
			ssize_t r;
			if (n >= sizeof rbuf) /* large payloads go straight to their buffer */
				r = read(ipc_fd, d, n);
			else
				r = read(ipc_fd, rbuf, sizeof rbuf);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				die("read from IPC fd %d: %s", ipc_fd, strerror(errno));
			}
			if (r == 0)
				die(at_boundary ? "IPC channel closed by the runtime"
				                : "IPC channel closed in the middle of a frame");
			if (n >= sizeof rbuf) {
				d += r;
				n -= r;
				at_boundary = 0;
				continue;
			}
			rpos = 0;
			rlen = r;
		}
		size_t k = rlen - rpos < n ? rlen - rpos : n;
		memcpy(d, rbuf + rpos, k);
		rpos += k;
		d += k;
		n -= k;
		at_boundary = 0;
	}
}

/* ---- writing: header and payload in one writev. */

static void write_frame(uint8_t type, uint64_t id, const void *payload, size_t len)
{
	unsigned char h[HEADER_SIZE] = {0};
	put_u32(h, (uint32_t)len);
	h[4] = type;
	put_u64(h + 8, id);
	struct iovec iov[2] = {{h, sizeof h}, {(void *)payload, len}};
	int n = len ? 2 : 1;
	struct iovec *v = iov;
	while (n > 0) {
		ssize_t w = writev(ipc_fd, v, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write to IPC fd %d: %s", ipc_fd, strerror(errno));
		}
		while (n > 0 && (size_t)w >= v->iov_len) {
			w -= v->iov_len;
			v++;
			n--;
		}
		if (n > 0) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= w;
		}
	}
}

/* Sends an ERROR frame; msg is plain ASCII without quotes or backslashes. */
static void write_error(uint64_t id, const char *type, const char *msg)
{
	char json[512];
	int n = snprintf(json, sizeof json, "{\"errorType\":\"%s\",\"errorMessage\":\"%s\"}", type, msg);
	write_frame(T_ERROR, id, json, (size_t)n < sizeof json ? (size_t)n : sizeof json - 1);
}

/* ---- handlers */

/* Parses a decimal uint64 at *s, advancing past it; 0 on failure. */
static int parse_u64(const char **s, const char *end, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;
	if (p == end || *p < '0' || *p > '9')
		return 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*s = p;
	*out = v;
	return 1;
}

static void handle_invoke(uint64_t id, unsigned char *body, size_t len)
{
	static const char prefix[] = "state:";
	if (has_state && len >= sizeof prefix - 1 && memcmp(body, prefix, sizeof prefix - 1) == 0) {
		const char *p = (const char *)body + sizeof prefix - 1, *end = (const char *)body + len;
		uint64_t off, n;
		if (!parse_u64(&p, end, &off) || p == end || *p++ != ':' || !parse_u64(&p, end, &n) || p != end) {
			write_error(id, "BadRequest", "want state:OFFSET:LEN with decimal OFFSET and LEN");
			return;
		}
		if (off > state_size || n > state_size - off || n > MAX_PAYLOAD) {
			char msg[160];
			snprintf(msg, sizeof msg, "state range %" PRIu64 "+%" PRIu64 " is outside the %" PRIu64 "-byte state",
			         off, n, state_size);
			write_error(id, "RangeError", msg);
			return;
		}
		write_frame(T_RESULT, id, state + off, (size_t)n);
		return;
	}
	for (size_t i = 0; i < len; i++)
		if (body[i] >= 'a' && body[i] <= 'z')
			body[i] -= 'a' - 'A';
	write_frame(T_RESULT, id, body, len);
}

/* This worker has no control ops; it names the op it was asked for. */
static void handle_control(uint64_t id, const unsigned char *p, size_t len)
{
	char op[64] = "";
	size_t o = 0;
	const unsigned char *end = p + len, *k = NULL;
	for (const unsigned char *q = p; q + 4 <= end; q++)
		if (memcmp(q, "\"op\"", 4) == 0) {
			k = q + 4;
			break;
		}
	if (k) {
		while (k < end && (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r' || *k == ':'))
			k++;
		if (k < end && *k == '"')
			for (k++; k < end && *k != '"' && o < sizeof op - 1; k++)
				if (*k >= 0x20 && *k < 0x7f && *k != '\\')
					op[o++] = (char)*k;
	}
	op[o] = 0;
	char reply[160];
	int n = snprintf(reply, sizeof reply, "{\"ok\":false,\"error\":\"unknown op %s\"}", op);
	write_frame(T_CONTROL_REPLY, id, reply, (size_t)n);
}

/* ---- start-up */

static long env_number(const char *name, long dflt, long min, long max)
{
	const char *v = getenv(name);
	if (!v)
		return dflt;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		die("%s=\"%s\" is not a number from %ld to %ld", name, v, min, max);
	return n;
}

static void map_state(void)
{
	if (!getenv("HEARTH_STATE_FD"))
		return;
	int fd = (int)env_number("HEARTH_STATE_FD", -1, 0, INT_MAX);
	const char *s = getenv("HEARTH_STATE_SIZE");
	if (!s)
		die("HEARTH_STATE_SIZE is not set (HEARTH_STATE_FD=%d is)", fd);
	const char *p = s;
	if (!parse_u64(&p, s + strlen(s), &state_size) || *p)
		die("HEARTH_STATE_SIZE=\"%s\" is not a byte count", s);
	struct stat st;
	if (fstat(fd, &st) < 0)
		die("HEARTH_STATE_FD=%d: fstat: %s", fd, strerror(errno));
	if ((uint64_t)st.st_size < state_size)
		die("HEARTH_STATE_FD=%d is %lld bytes, shorter than HEARTH_STATE_SIZE=%" PRIu64, fd,
		    (long long)st.st_size, state_size);
	has_state = 1;
	if (st.st_size == 0)
		return;
	/* Map the whole file: hugetlbfs files are rounded up to the huge page
	 * size, and the mapping must cover whole pages of it. Read-only: the
	 * memory is sealed against writes. Pages fault in lazily. */
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		die("HEARTH_STATE_FD=%d: mmap %lld bytes read-only: %s", fd, (long long)st.st_size, strerror(errno));
	state = m;
}

int main(void)
{
	const char *ipc_env = getenv("HEARTH_IPC_FD");
	ipc_fd = (int)env_number("HEARTH_IPC_FD", 3, 0, INT_MAX);
	struct stat st;
	if (fstat(ipc_fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		if (!ipc_env) {
			fputs("this is a Hearth worker; start it with `hearth deploy` (it needs the runtime's IPC socket on fd 3)\n", stderr);
			return 2;
		}
		die("HEARTH_IPC_FD=%d is not an open socket", ipc_fd);
	}
	/* A vanished runtime shows up as EPIPE from write, not a fatal signal. */
	signal(SIGPIPE, SIG_IGN);
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &wait_mask);
	sigdelset(&wait_mask, SIGTERM);
	struct sigaction sa = {.sa_handler = on_sigterm};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);

	map_state();
	/* Not dumpable: another process of this user (a sibling worker of this
	 * function) cannot read this one's memory through /proc (SECURITY.md). */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

	unsigned char ready[8 + sizeof SDK_NAME - 1];
	put_u16(ready, PROTOCOL_VERSION);
	put_u16(ready + 2, 0); /* role: worker */
	put_u32(ready + 4, (uint32_t)getpid());
	memcpy(ready + 8, SDK_NAME, sizeof SDK_NAME - 1);
	write_frame(T_READY, 0, ready, sizeof ready);

	unsigned char *payload = NULL;
	size_t cap = 0;
	for (;;) {
		unsigned char h[HEADER_SIZE];
		read_full(h, sizeof h, 1);
		uint32_t len = get_u32(h);
		uint8_t type = h[4];
		uint64_t id = get_u64(h + 8);
		if (type < T_READY || type > T_SHUTDOWN)
			die("protocol violation: unknown frame type %u", type);
		if (h[5] != 0 || get_u16(h + 6) != 0)
			die("protocol violation: frame type %u has non-zero flags or reserved bits", type);
		if (len > MAX_PAYLOAD)
			die("protocol violation: frame claims %" PRIu32 " payload bytes, over the %u-byte limit", len, MAX_PAYLOAD);
		if (type != T_INVOKE && type != T_CONTROL && type != T_SHUTDOWN)
			die("protocol violation: runtime sent frame type %u, which only a worker or stem cell receives", type);
		if (type == T_INVOKE && len < 8)
			die("protocol violation: INVOKE payload is %" PRIu32 " bytes, under the 8-byte minimum", len);
		if (type == T_CONTROL && len < 2) /* a JSON object: at least "{}" */
			die("protocol violation: CONTROL payload is %" PRIu32 " bytes, under the 2-byte minimum", len);
		if (len > cap) {
			free(payload);
			cap = len;
			payload = malloc(cap);
			if (!payload)
				die("out of memory for a %" PRIu32 "-byte frame", len);
		}
		read_full(payload, len, 0);

		switch (type) {
		case T_INVOKE:
			if (get_u32(payload + 4) != 0)
				die("protocol violation: INVOKE payload has a non-zero reserved field");
			/* payload[0..3] is timeoutMs: this handler never blocks, so it has no use for it. */
			handle_invoke(id, payload + 8, len - 8);
			break;
		case T_CONTROL:
			handle_control(id, payload, len);
			break;
		case T_SHUTDOWN:
			return 0;
		}
	}
}
