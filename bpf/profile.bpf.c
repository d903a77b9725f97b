// SPDX-License-Identifier: GPL-2.0
/* CPU sampling of the runtime's workers, aggregated in the kernel. Two perf-event programs
 * run on software CPU-clock events: sample_cold at a high rate, on a clock per process the
 * runtime starts (agent/profile/cold-clocks.ts), counts only processes in their cold-start
 * window (exec to ready); sample_steady at a low rate, on every CPU, only the others. Both use the cold-start object's hearth_tracked map (shared by fd), so they
 * sample exactly the processes the phases follow; anything else returns after one lookup. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "common.bpf.h"
#include "profile.h"

char LICENSE[] SEC("license") = "GPL";

_Static_assert(sizeof(struct hearth_sample_key) == 24, "hearth_sample_key is 24 bytes");

#define STACK_MAP(name)                                          \
  struct {                                                       \
    __uint(type, BPF_MAP_TYPE_STACK_TRACE);                      \
    __uint(max_entries, HEARTH_MAX_STACKS);                      \
    __uint(key_size, sizeof(__u32));                             \
    __uint(value_size, HEARTH_STACK_DEPTH * sizeof(__u64));      \
  } name SEC(".maps")
#define SAMPLE_MAP(name)                                         \
  struct {                                                       \
    __uint(type, BPF_MAP_TYPE_HASH);                             \
    __uint(max_entries, HEARTH_MAX_SAMPLE_KEYS);                 \
    __type(key, struct hearth_sample_key);                       \
    __type(value, __u64);                                        \
  } name SEC(".maps")

STACK_MAP(hearth_stacks_0);
STACK_MAP(hearth_stacks_1);
SAMPLE_MAP(hearth_samples_0);
SAMPLE_MAP(hearth_samples_1);

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} hearth_profile_gen SEC(".maps");

HEARTH_COUNTERS(hearth_profile_stats, HEARTH_PSTATS);

static __always_inline void pstat_inc(__u32 idx)
{
  counter_inc(&hearth_profile_stats, idx);
}

/* Counts one sample in one generation's maps (inlined per generation: the verifier wants a
 * constant map at each helper call). */
static __always_inline void count_sample(struct bpf_perf_event_data *ctx, void *stacks, void *samples,
                                         __u32 tgid, __u32 cold)
{
  struct hearth_sample_key key;
  __u64 one = 1, *count;
  struct pt_regs *user = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());

  key.pid = tgid;
  key.cold = cold;
  key.leaf_ret = 0;
  /* the user registers as saved on entry to the kernel, whatever mode the sample hit */
  if (user && bpf_probe_read_user(&key.leaf_ret, sizeof(key.leaf_ret), (void *)BPF_CORE_READ(user, sp)))
    key.leaf_ret = 0;
  key.user_stack = bpf_get_stackid(ctx, stacks, BPF_F_USER_STACK);
  key.kernel_stack = bpf_get_stackid(ctx, stacks, 0);
  if (key.user_stack < 0)
    pstat_inc(HEARTH_PSTAT_STACK_LOST);
  count = bpf_map_lookup_elem(samples, &key);
  if (count) {
    __sync_fetch_and_add(count, 1);
  } else if (bpf_map_update_elem(samples, &key, &one, BPF_NOEXIST)) {
    /* EEXIST: another CPU added it just now; anything else: the table is full */
    count = bpf_map_lookup_elem(samples, &key);
    if (!count) {
      pstat_inc(HEARTH_PSTAT_KEYS_FULL);
      return;
    }
    __sync_fetch_and_add(count, 1);
  }
  pstat_inc(HEARTH_PSTAT_SAMPLES);
}

static __always_inline int sample(struct bpf_perf_event_data *ctx, __u32 want_cold)
{
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct hearth_tracked *t;
  __u32 zero = 0, *gen;
  __u32 cold;

  if (tgid == 0) /* the idle task */
    return 0;
  t = bpf_map_lookup_elem(&hearth_tracked, &tgid);
  if (!t)
    return 0;
  cold = (t->seen & HEARTH_SEEN_EXEC) && !(t->seen & HEARTH_SEEN_READY);
  if (cold != want_cold)
    return 0;
  gen = bpf_map_lookup_elem(&hearth_profile_gen, &zero);
  if (gen && *gen)
    count_sample(ctx, &hearth_stacks_1, &hearth_samples_1, tgid, cold);
  else
    count_sample(ctx, &hearth_stacks_0, &hearth_samples_0, tgid, cold);
  return 0;
}

SEC("perf_event")
int sample_cold(struct bpf_perf_event_data *ctx)
{
  return sample(ctx, 1);
}

SEC("perf_event")
int sample_steady(struct bpf_perf_event_data *ctx)
{
  return sample(ctx, 0);
}
