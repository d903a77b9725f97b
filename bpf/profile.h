/* The contract between bpf/profile.bpf.c and its loader (agent/profile/sampler.ts).
 * Little-endian x86-64; fixed offsets, mirrored in the loader. */
#ifndef HEARTH_PROFILE_H
#define HEARTH_PROFILE_H

#define HEARTH_STACK_DEPTH 127  /* frames kept per stack (the kernel's own limit) */
#define HEARTH_MAX_STACKS 8192 /* distinct stacks between two reads, per generation */
#define HEARTH_MAX_SAMPLE_KEYS 16384 /* per generation */

/* Samples and stacks live in two generations (maps *_0 and *_1). hearth_profile_gen[0] says
 * which one the programs fill; the loader flips it, then reads and empties the other one,
 * which nothing writes to any more: no stack can be freed while a count still refers to it. */

/* hearth_samples: one count per (process, user stack, kernel stack, window). A stack id < 0
 * is the error bpf_get_stackid returned (no kernel stack in user mode: -EFAULT; the stack
 * table's bucket already holds another stack: -EEXIST). */
struct hearth_sample_key {
  unsigned int pid;            /* 0: tgid */
  int user_stack;              /* 4 */
  int kernel_stack;            /* 8 */
  unsigned int cold;           /* 12: 1 if taken in the cold-start window, 0 in steady state */
  unsigned long long leaf_ret; /* 16: the word at the user stack pointer (0 if unreadable) */
};                             /* 24 bytes */
/* leaf_ret: a frame-pointer walk skips the caller of a function that has not set up its frame
 * (a frameless leaf, or a PC in a prologue), because the caller's frame pointer is still in
 * place. There the return address is the word at [SP]; user space decides, from the leaf's
 * own frame size at that PC (Go's pcsp table), whether to insert it. */

/* Counters in the hearth_profile_stats per-CPU array. */
#define HEARTH_PSTAT_SAMPLES 0      /* samples counted */
#define HEARTH_PSTAT_STACK_LOST 1   /* no user stack could be stored (table full or collision) */
#define HEARTH_PSTAT_KEYS_FULL 2    /* the sample table was full: the sample is lost */
#define HEARTH_PSTATS 4

#endif
