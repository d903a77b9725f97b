// What a sampling CPU clock costs each context switch of the process it follows. Two processes
// pinned to one CPU pass a byte back and forth over pipes, so every round trip switches the
// follower in and out once; the round trip is timed with no clock, with a clock that follows the
// follower (pid, any CPU, inherit: what the agent opens per cold start) at the given rate and at
// 1 Hz, and with a clock on every CPU at the given rate (pid -1). Configurations rotate per
// round. A followed clock is stopped and restarted with its task at each switch; when it is the
// CPU's next timer to expire, both reprogram the CPU's timer, which a virtual machine traps.
//
// usage: clock-switch-cost HZ ROUNDS TRIPS
// prints one JSON object: median microseconds per round trip of each configuration.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum config { NONE, PROCESS_CLOCK, PROCESS_CLOCK_1HZ, CPU_CLOCKS, CONFIGS };
static const char *const names[CONFIGS] = {"none", "process_clock", "process_clock_1hz", "cpu_clocks"};

static void die(const char *what)
{
  fprintf(stderr, "clock-switch-cost: %s: %s\n", what, strerror(errno));
  exit(1);
}

static double now_us(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int open_clock(pid_t pid, int cpu, long hz)
{
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_CPU_CLOCK;
  attr.freq = 1;
  attr.sample_freq = hz;
  attr.inherit = pid != -1;
  int fd = syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0)
    die("perf_event_open");
  return fd;
}

static void pin_to(int cpu)
{
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    die("sched_setaffinity");
}

/* Microseconds per round trip between this process and a follower on the same CPU. */
static double round_trip_us(enum config config, long hz, int trips, int ncpu)
{
  int to_child[2], to_parent[2];
  if (pipe(to_child) != 0 || pipe(to_parent) != 0)
    die("pipe");
  pid_t child = fork();
  if (child < 0)
    die("fork");
  if (child == 0) {
    char byte;
    close(to_child[1]);
    close(to_parent[0]);
    while (read(to_child[0], &byte, 1) == 1)
      if (write(to_parent[1], &byte, 1) != 1)
        _exit(1);
    _exit(0);
  }
  close(to_child[0]);
  close(to_parent[1]);
  int fds[64], nfds = 0;
  if (config == PROCESS_CLOCK)
    fds[nfds++] = open_clock(child, -1, hz);
  else if (config == PROCESS_CLOCK_1HZ)
    fds[nfds++] = open_clock(child, -1, 1);
  else if (config == CPU_CLOCKS)
    for (int cpu = 0; cpu < ncpu && nfds < 64; cpu++)
      fds[nfds++] = open_clock(-1, cpu, hz);
  char byte = 'x';
  double start = now_us();
  for (int i = 0; i < trips; i++)
    if (write(to_child[1], &byte, 1) != 1 || read(to_parent[0], &byte, 1) != 1)
      die("round trip");
  double per_trip = (now_us() - start) / trips;
  close(to_child[1]);
  waitpid(child, NULL, 0);
  close(to_parent[0]);
  for (int i = 0; i < nfds; i++)
    close(fds[i]);
  return per_trip;
}

static int by_value(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: clock-switch-cost HZ ROUNDS TRIPS\n");
    return 2;
  }
  long hz = atol(argv[1]);
  int rounds = atoi(argv[2]), trips = atoi(argv[3]);
  int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (hz < 1 || rounds < 1 || rounds > 1000 || trips < 1) {
    fprintf(stderr, "clock-switch-cost: HZ, ROUNDS (at most 1000) and TRIPS must be positive\n");
    return 2;
  }
  pin_to(0); /* the follower inherits it: both share CPU 0 */
  static double us[CONFIGS][1000];
  for (int round = 0; round < rounds; round++)
    for (int i = 0; i < CONFIGS; i++) {
      enum config config = (enum config)((i + round) % CONFIGS);
      us[config][round] = round_trip_us(config, hz, trips, ncpu);
    }
  printf("{");
  for (int config = 0; config < CONFIGS; config++) {
    qsort(us[config], rounds, sizeof(double), by_value);
    printf("%s\"%s\": %.3f", config ? ", " : "", names[config], us[config][rounds / 2]);
  }
  printf("}\n");
  return 0;
}
