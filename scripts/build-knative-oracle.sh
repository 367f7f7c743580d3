#!/usr/bin/env bash
# Builds the Knative oracle (oracle/: Knative Serving v0.50.0 = Knative 1.23, up to the KIngress,
# see oracle/README.md) with the machine's Go toolchain, modules from the Go module proxy only,
# checked against Go's checksum database (oracle/go.sum pins them).
#
# The binary is cached as
#   ${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}/oracle-<hash>
# where <hash> covers go.mod, go.sum and every source file under oracle/, so an edit rebuilds
# and a second run is a no-op (cached_go_program in go-build-common.sh). Last line on stdout: the
# binary's path. Exit code 0 with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "[build-knative-oracle $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
cached_go_program oracle "$root/oracle" "${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}" "first build compiles ~1,000 packages of knative.dev/serving and k8s.io; several minutes on 2 cores"
