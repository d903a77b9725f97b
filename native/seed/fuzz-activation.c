/* libFuzzer target for the seed's activation-message parser: seed.c itself,
 * compiled without its main, so the code fuzzed is the code that runs.
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined native/seed/fuzz-activation.c
 * (npm run fuzz -- seed builds and runs it). Input: one byte, the number of fds
 * that came with the message (0-8), then the message as recvmsg read it. The
 * documented outcome: parsed, with every pointer inside the message and argv and
 * envp NULL-terminated, or refused (-1); never a read or write out of bounds. */
#define HEARTH_SEED_NO_MAIN
#include "seed.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int nfds = data[0] % (MAX_FDS + 1);
  size_t length = size - 1;
  /* receive() refuses a message outside [8, sizeof message] before parsing. */
  if (length < 8 || length > sizeof message) return 0;
  memcpy(message, data + 1, length);
  /* The declared length is the first u32: receive() reads exactly that many bytes. */
  uint32_t declared = (uint32_t)length;
  memcpy(message, &declared, 4);
  struct activation a;
  if (parse_activation(length, nfds, &a) != 0) return 0;
  const char *lo = message, *hi = message + length;
  if (a.file < lo || a.file >= hi || a.cwd < lo || a.cwd >= hi) abort();
  size_t strings_seen = 0;
  for (char **arg = a.argv; *arg != NULL; arg++, strings_seen++)
    if (*arg < lo || *arg >= hi || strings_seen > MAX_STRINGS) abort();
  for (char **env = a.envp; *env != NULL; env++, strings_seen++)
    if (*env < lo || *env >= hi || strings_seen > MAX_STRINGS) abort();
  if ((const char *)a.targets < lo || (const char *)a.targets + nfds > hi) abort();
  return 0;
}
