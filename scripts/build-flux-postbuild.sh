#!/usr/bin/env bash
# Builds test/gitops/flux-postbuild (Flux's post-build substitution, github.com/fluxcd/pkg/kustomize
# v1.41.0, pinned by its go.sum) with the machine's Go toolchain from the Go module proxy.
#
# The binary is cached as
#   ${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}/flux-postbuild-<hash>
# where <hash> covers go.mod, go.sum and main.go, so an edit rebuilds and a second run is a no-op
# (cached_go_program in go-build-common.sh). Last line on stdout: the binary's path. Exit code 0
# with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "[build-flux-postbuild $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
cached_go_program flux-postbuild "$root/test/gitops/flux-postbuild" "${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}" "first build compiles kustomize's api and k8s.io packages; a few minutes on 2 cores"
