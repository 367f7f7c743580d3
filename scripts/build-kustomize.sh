#!/usr/bin/env bash
# Builds kustomize (sigs.k8s.io/kustomize/kustomize/v5) from the Go module proxy, for the KRM
# function test (test/cli/krm-kustomize.test.ts), which runs `kustomize build
# --enable-alpha-plugins --enable-exec` with `kservice krm` as an exec transformer.
#
# Version: KUSTOMIZE_VERSION below (v5.8.2: the newest release whose go.mod accepts this machine's
# Go 1.26; v5.8.3 requires go 1.27.0). The binary lands in
#   ${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}/kustomize-<version>/kustomize
# with a .stamp and a lock beside it, like scripts/build-net-components.sh, so a second run is a
# no-op and concurrent callers wait instead of racing. Builds run under nice (the machine is shared)
# and print a progress line every 30 s (go-build-common.sh).
#
# Usage: build-kustomize.sh        Last line on stdout: the binary's path.
set -euo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PATH="$PATH:/usr/local/go/bin"
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
log() { echo "[build-kustomize $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$here/go-build-common.sh"
command -v go >/dev/null || { log "Go toolchain not found (need go >= 1.26)"; exit 1; }

cache_root="${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}"
out="$cache_root/kustomize-$KUSTOMIZE_VERSION"
stamp="$out/.stamp"
stamp_content="kustomize=$KUSTOMIZE_VERSION"
built() { [[ -f "$stamp" ]] && grep -q "^${stamp_content}\$" "$stamp" && [[ -x "$out/kustomize" ]]; }

if ! built; then
  mkdir -p "$out"
  exec 9>"$out.lock"
  log "waiting for build lock $out.lock"
  flock 9
  if ! built; then
    rm -f "$stamp"
    t0=$SECONDS
    # `go install module@version` builds the module as released (its own go.mod and go.sum), so
    # kustomize's version command reports the release from the build info.
    cached_binary "$out/kustomize" "$cache_root/.build/kustomize-$KUSTOMIZE_VERSION" kustomize "$cache_root" \
      "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION ($(go version); a few minutes on 2 cores)" \
      env CGO_ENABLED=0 GOFLAGS=-buildvcs=false GOBIN="$cache_root/.build/kustomize-$KUSTOMIZE_VERSION" \
      nice -n 19 go install -v -trimpath -ldflags='-s -w' "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >/dev/null
    printf '%s\ngo=%s\nbuilt=%s\nseconds=%s\n' "$stamp_content" "$(go env GOVERSION)" \
      "$(date -u +%FT%TZ)" "$((SECONDS - t0))" >"$stamp"
  fi
  exec 9>&-
fi
log "up to date: $out ($(sed -n '1p;4p' "$stamp" | paste -sd' '))"
echo "$out/kustomize"
