#!/usr/bin/env bash
# Builds the Knative oracle (oracle/: Knative Serving v0.50.0 = Knative 1.23, up to the KIngress,
# see oracle/README.md) with the machine's Go toolchain, modules from the Go module proxy only,
# checked against Go's checksum database (oracle/go.sum pins them).
#
# The binary is cached as
#   ${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}/oracle-<hash>
# where <hash> covers go.mod, go.sum and every source file under oracle/, so an edit rebuilds
# and a second run is a no-op. Last line on stdout: the binary's path.
# Exit code 0 with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/oracle"
cache="${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}"

log() { echo "[build-knative-oracle $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
mkdir -p "$cache"

hash="$(cd "$src" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 \
  | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
bin="$cache/oracle-$hash"

# One build at a time per cache; a second caller waits, then finds the binary.
exec 9>"$cache/.knative-oracle.lock"
flock 9

# -mod=readonly: every module must match the committed go.sum (written by `go mod tidy`, which
# checked each against sum.golang.org); a mismatch fails the build, nothing is written back.
# nice keeps other engineers' builds responsive.
work="$cache/.build-oracle-$hash"
cached_binary "$bin" "$work" oracle "$src" \
  "$src -> $bin (first build compiles ~1,000 packages of knative.dev/serving and k8s.io; several minutes on 2 cores)" \
  env CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" nice -n 10 go build -v -trimpath -o "$work/oracle" .
# Binaries of earlier sources are never used again.
find "$cache" -maxdepth 1 -name 'oracle-*' ! -name "oracle-$hash" -type f -delete
