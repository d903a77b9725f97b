#!/usr/bin/env bash
# Builds the CO-RE eBPF objects: bpf/*.bpf.c -> bpf/build/*.bpf.o, against a vmlinux.h
# generated from this kernel's BTF. Idempotent: only what is out of date is rebuilt, and
# nothing is printed when everything is current.
set -euo pipefail
cd "$(dirname "$0")/.."

btf=/sys/kernel/btf/vmlinux
out=bpf/build
vmlinux_h=$out/vmlinux.h
say() { printf 'build-bpf: %s\n' "$*" >&2; }

if [ ! -r "$btf" ]; then
  echo "BTF is missing: this kernel was built without CONFIG_DEBUG_INFO_BTF" >&2
  exit 1
fi
for tool in bpftool clang sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { say "$tool is not installed"; exit 1; }
done
mkdir -p "$out"

# vmlinux.h belongs to the kernel whose BTF it was dumped from. sysfs mtimes are not a
# reliable age (kernfs stamps an inode when it is instantiated), so the BTF's checksum is
# kept beside it and a different kernel, not a reboot, triggers a new dump.
btf_sum=$(sha256sum "$btf" | cut -d' ' -f1)
if [ ! -s "$vmlinux_h" ] || [ "$(cat "$vmlinux_h.btfsum" 2>/dev/null)" != "$btf_sum" ]; then
  say "generating $vmlinux_h from $btf"
  tmp=$(mktemp "$out/.vmlinux.h.XXXXXX")
  if ! bpftool btf dump file "$btf" format c >"$tmp"; then
    rm -f "$tmp"; say "bpftool btf dump failed"; exit 1
  fi
  if cmp -s "$tmp" "$vmlinux_h"; then
    rm -f "$tmp" # same types: keep the old file so nothing recompiles
  else
    chmod 644 "$tmp"
    mv -f "$tmp" "$vmlinux_h"
  fi
  echo "$btf_sum" >"$vmlinux_h.btfsum"
fi

shopt -s nullglob
sources=(bpf/*.bpf.c)
headers=(bpf/*.h)
for src in "${sources[@]}"; do
  name=$(basename "$src" .c)
  obj=$out/$name.o
  stale=0
  if [ ! -f "$obj" ]; then
    stale=1
  else
    for dep in "$src" "$vmlinux_h" "${headers[@]}"; do
      if [ "$dep" -nt "$obj" ]; then stale=1; break; fi
    done
  fi
  [ "$stale" -eq 1 ] || continue
  say "compiling $src -> $obj"
  # Compile to a temporary name so a failed build never leaves a fresh-looking object.
  if ! clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -I "$out" -I bpf -Wall -Werror \
      -c "$src" -o "$obj.tmp"; then
    rm -f "$obj.tmp"
    say "failed to compile $src"
    exit 1
  fi
  mv -f "$obj.tmp" "$obj"
done
