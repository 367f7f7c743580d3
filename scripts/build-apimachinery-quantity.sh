#!/usr/bin/env bash
# Builds test/oracle/apimachinery-quantity (a few lines of Go around k8s.io/apimachinery's
# resource.Quantity, at the version oracle/go.mod pins) with the machine's Go toolchain, modules
# from the Go module proxy only, checked against the committed go.sum. The property test
# test/oracle/quantity-apimachinery.test.ts compares lib/contract/quantity.ts with it.
#
# The binary is cached as
#   ${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}/apimachinery-quantity-<hash>
# where <hash> covers go.mod, go.sum and main.go, so an edit rebuilds and a second run is a
# no-op (cached_go_program in go-build-common.sh). Last line on stdout: the binary's path. Exit
# code 0 with a path, non-zero with a reason on stderr.
set -euo pipefail

export PATH="$PATH:/usr/local/go/bin"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { echo "[build-apimachinery-quantity $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$root/scripts/go-build-common.sh"

command -v go >/dev/null || { log "Go toolchain not found"; exit 1; }
cached_go_program apimachinery-quantity "$root/test/oracle/apimachinery-quantity" "${KSERVICE_ORACLE_CACHE:-$HOME/.cache/cdk8s-kservice}" "k8s.io/apimachinery's resource package; under a minute"
