/* What bpf/coldstart.bpf.c and bpf/profile.bpf.c both define: the map of followed processes
 * (one map at run time: the profiler's loader shares the cold-start object's by fd) and
 * per-CPU counters. Included by BPF programs only. */
#ifndef HEARTH_COMMON_BPF_H
#define HEARTH_COMMON_BPF_H

#include "coldstart.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, HEARTH_MAX_TRACKED);
  __type(key, __u32);
  __type(value, struct hearth_tracked);
} hearth_tracked SEC(".maps");

/* A per-CPU array of u64 counters, `entries` long. */
#define HEARTH_COUNTERS(name, entries) \
  struct {                             \
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
    __uint(max_entries, entries);      \
    __type(key, __u32);                \
    __type(value, __u64);              \
  } name SEC(".maps")

static __always_inline void counter_inc(void *counters, __u32 idx)
{
  __u64 *v = bpf_map_lookup_elem(counters, &idx);

  if (v)
    __sync_fetch_and_add(v, 1);
}

#endif
