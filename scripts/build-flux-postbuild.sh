#!/usr/bin/env bash
# Builds test/gitops/flux-postbuild (Flux's post-build substitution, github.com/fluxcd/pkg/kustomize
# v1.41.0, pinned by its go.sum) with the machine's Go toolchain from the Go module proxy.
#
# The binary is cached as
#   ${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}/flux-postbuild-<hash>
# where <hash> covers go.mod, go.sum and main.go, so an edit rebuilds and a second run is a no-op.
# Last line on stdout: the binary's path. Exit code 0 with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/test/gitops/flux-postbuild"
cache="${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}"

log() { echo "[build-flux-postbuild $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
mkdir -p "$cache"

hash="$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
bin="$cache/flux-postbuild-$hash"

exec 9>"$cache/.flux-postbuild.lock"
flock 9

work="$cache/.build-flux-postbuild-$hash"
cached_binary "$bin" "$work" flux-postbuild "$src" \
  "$src -> $bin (first build compiles kustomize's api and k8s.io packages; a few minutes on 2 cores)" \
  env CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" nice -n 10 go build -v -trimpath -o "$work/flux-postbuild" .
find "$cache" -maxdepth 1 -name 'flux-postbuild-*' ! -name "flux-postbuild-$hash" -type f -delete
