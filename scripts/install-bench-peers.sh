#!/usr/bin/env bash
# Installs or builds the peers and load generators the benchmark compares
# against (bench/run.ts calls this first; it is idempotent and cached):
#   - haproxy (Debian package): the native-code concurrency-limiting queue
#   - wrk (Debian package): closed-model saturation load generator
#   - vegeta (Go module, built into the bench cache): open-model fixed-rate load
#   - Knative's queue-proxy (scripts/build-knative-queue.sh)
# Each step that cannot be done is reported on stderr and skipped; the bench
# then skips the affected configuration with the printed reason.
# Prints one line per tool on stdout: `name=<path>` or `name=` (missing).
set -uo pipefail

export PATH="$PATH:/usr/local/go/bin"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KSERVICE_BENCH_CACHE:-$HOME/.cache/cdk8s-kservice/bench}"
# vegeta's @latest listing is not served by every proxy; a pinned release is.
vegeta_version="${VEGETA_VERSION:-v12.12.0}"
mkdir -p "$cache"

log() { echo "[install-bench-peers $(date +%H:%M:%S)] $*" >&2; }

apt_install() {
  local pkg="$1"
  command -v "$pkg" >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then log "not root: cannot apt-get install $pkg"; return 1; fi
  log "apt-get install $pkg"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null 2>&1 || { log "apt-get install $pkg failed"; return 1; }
  fi
}

build_vegeta() {
  local bin="$cache/vegeta-$vegeta_version"
  if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi
  command -v go >/dev/null || { log "Go toolchain not found: no vegeta"; return 1; }
  local work="$cache/.build-vegeta"
  rm -rf "$work" && mkdir -p "$work"
  log "building github.com/tsenart/vegeta/v12@$vegeta_version"
  # A throwaway module that requires the pinned release: `go install pkg@version`
  # would also ask the proxy for the module's version list (to look for a
  # deprecation notice), which not every proxy serves.
  printf 'module benchtools\n\ngo 1.22\n\nrequire github.com/tsenart/vegeta/v12 %s\n' "$vegeta_version" >"$work/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/tsenart/vegeta/v12"\n' >"$work/tools.go"
  if (cd "$work" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
        nice -n 10 go build -trimpath -o "$work/vegeta" github.com/tsenart/vegeta/v12) >"$work/build.log" 2>&1; then
    mv "$work/vegeta" "$bin" && rm -rf "$work" && echo "$bin"
  else
    log "vegeta build failed:"; tail -n 10 "$work/build.log" >&2; return 1
  fi
}

# Debian's haproxy package starts a system service on install; the bench runs
# its own instance with its own config, so the packaged one is stopped.
if apt_install haproxy; then
  (command -v systemctl >/dev/null && systemctl stop haproxy >/dev/null 2>&1) || true
  pid_file=/run/haproxy.pid
  [[ -f $pid_file ]] && kill "$(cat $pid_file)" 2>/dev/null || true
  echo "haproxy=$(command -v haproxy)"
else
  echo "haproxy="
fi
if apt_install wrk; then echo "wrk=$(command -v wrk)"; else echo "wrk="; fi
echo "vegeta=$(build_vegeta || true)"
echo "knative_queue=$(bash "$here/build-knative-queue.sh" 2>&2 | tail -n 1 || true)"
