#!/usr/bin/env bash
# Builds test/oracle/apimachinery-quantity (a few lines of Go around k8s.io/apimachinery's
# resource.Quantity, at the version oracle/go.mod pins) with the machine's Go toolchain, modules
# from the Go module proxy only, checked against the committed go.sum. The property test
# test/oracle/quantity-apimachinery.test.ts compares lib/contract/quantity.ts with it.
#
# The binary is cached as
#   ${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}/apimachinery-quantity-<hash>
# where <hash> covers go.mod, go.sum and main.go, so an edit rebuilds and a second run is a
# no-op. Last line on stdout: the binary's path. Exit code 0 with a path, non-zero with a reason
# on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/test/oracle/apimachinery-quantity"
cache="${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}"

log() { echo "[build-apimachinery-quantity $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
mkdir -p "$cache"

hash="$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
bin="$cache/apimachinery-quantity-$hash"

# One build at a time per cache; a second caller waits, then finds the binary.
exec 9>"$cache/.apimachinery-quantity.lock"
flock 9

# -mod=readonly: every module must match the committed go.sum; nothing is written back.
work="$cache/.build-apimachinery-quantity-$hash"
cached_binary "$bin" "$work" apimachinery-quantity "$src" \
  "$src -> $bin (k8s.io/apimachinery's resource package; under a minute)" \
  env CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" nice -n 10 go build -v -trimpath -o "$work/apimachinery-quantity" .
# Binaries of earlier sources are never used again.
find "$cache" -maxdepth 1 -name 'apimachinery-quantity-*' ! -name "apimachinery-quantity-$hash" -type f -delete
