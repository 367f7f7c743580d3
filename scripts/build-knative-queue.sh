#!/usr/bin/env bash
# Builds Knative Serving's own queue-proxy (knative.dev/serving/cmd/queue) with
# the machine's Go toolchain, from the Go module proxy, as the Go peer for the
# data-plane benchmark (bench/run.ts). The default release, v0.50.0, is the Go
# module version of knative-v1.23.0, the Knative release the compiler's facts
# come from; set KNATIVE_SERVING_VERSION to build another one. When the pinned
# version cannot be built, the script tries v0.51.0 (the next release).
#
# The binary is cached as
#   ${KSERVICE_BENCH_CACHE:-$HOME/.cache/cdk8s-kservice/bench}/knative-queue-<version>
# so a second run is a no-op. Last line on stdout: the binary's path.
# Exit code 0 with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
cache="${KSERVICE_BENCH_CACHE:-$HOME/.cache/cdk8s-kservice/bench}"
versions=("${KNATIVE_SERVING_VERSION:-v0.50.0}" v0.51.0)

log() { echo "[build-knative-queue $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
mkdir -p "$cache"
# One build at a time per cache; a second caller waits, then finds the binary.
exec 9>"$cache/.knative-queue.lock"
flock 9

# GOBIN install builds the module as released (its own go.mod and go.sum), which is what Knative
# ships. nice keeps other engineers' builds responsive.
for version in "${versions[@]}"; do
  work="$cache/.build-knative-queue-$version"
  cached_binary "$cache/knative-queue-$version" "$work" queue "$work" \
    "knative.dev/serving/cmd/queue@$version (first build takes several minutes on 2 cores)" \
    env CGO_ENABLED=0 GOBIN="$work" GOFLAGS=-buildvcs=false nice -n 10 go install -v -trimpath "knative.dev/serving/cmd/queue@$version" \
    && exit 0
  log "build of $version failed"
done
exit 1
