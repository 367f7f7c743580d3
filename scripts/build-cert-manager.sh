#!/usr/bin/env bash
# Builds cert-manager's controller for the cluster tests (test/cluster/cert-manager.test.ts), the
# issuer of the Certificates that issue 22's TLS feature will emit, from the Go module
# github.com/cert-manager/cert-manager at CERT_MANAGER_VERSION (scripts/cert-manager-versions.env),
# module proxy only, checksum database on.
#
# The module holds the controllers (pkg/controller, pkg/issuer/...) but not the command: upstream's
# cmd/controller is a separate module (`github.com/cert-manager/cert-manager/controller-binary`)
# that only builds inside the repository (`replace ... => ../../`) and is not on the module proxy.
# Its four Go files are kept unchanged in scripts/cert-manager-controller/ (SOURCE.md there) and
# built here against the pinned module, under upstream's module path, which is what lets them
# import the module's internal/ packages.
#
# The Venafi issuer is compiled out: its client library github.com/Venafi/vcert/v5 (v5.13.7, which
# the module requires) is refused by the module proxy ("403 This module version is not available";
# so is every v5.13.x), and the older v5.12.3 lacks packages the issuer imports. Two files are
# patched in a build copy of the module (patch_out_venafi below; the download is checked first):
# the controller defaults name the two Venafi controllers by string instead of importing them, and
# the command does not import the Venafi issuer. The other issuers (self-signed, CA, ACME, Vault)
# and every other controller are upstream's.
#
# Only the controller runs. The webhook is left out: the CRDs' openAPIV3Schema and CEL rules are
# enforced by kube-apiserver, and the webhook's extra checks matter only to hand-written input.
# cainjector is left out: it injects CA bundles into webhook and APIService objects, and there
# are none.
#
# The binary lands in ${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}/cert-manager-controller-<version>/
# with a .stamp (version + hash of the command's sources) and a lock: a second run is a no-op,
# concurrent callers wait. The build runs under `nice -n 19` with a progress line every 30 s.
#
# Usage: build-cert-manager.sh [controller]   builds (default); prints `cert-manager-controller=<path>`
#        build-cert-manager.sh crds           rewrites test/cluster/crds/cert-manager/ from the module
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cert-manager-versions.env
source "$here/cert-manager-versions.env"

export PATH="$PATH:/usr/local/go/bin"
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
command -v go >/dev/null || { echo "build-cert-manager: Go toolchain not found (need go >= 1.26)" >&2; exit 1; }
export GOFLAGS=-mod=mod CGO_ENABLED=0

module=github.com/cert-manager/cert-manager
command_src="$here/cert-manager-controller"
crds_dir="$here/../test/cluster/crds/cert-manager"
cache_root="${KSERVICE_BIN_CACHE:-$HOME/.cache/cdk8s-kservice/bin}"

log() { echo "[build-cert-manager $(date +%H:%M:%S)] $*" >&2; }
# shellcheck source=go-build-common.sh
source "$here/go-build-common.sh"

# The module's directory in the module cache (downloaded and checked against sum.golang.org).
module_dir() {
  local dir
  dir="$(go mod download -json "${module}@${CERT_MANAGER_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -d "$dir" ]] || { log "cannot download ${module}@${CERT_MANAGER_VERSION}"; return 1; }
  echo "$dir"
}

# Hash of the kept command sources: part of the stamp, so editing them rebuilds.
command_hash() {
  (cd "$command_src" && find . -type f -name '*.go' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

# Edits FILE (a build copy) in place by sed EXPRESSIONS; fails when nothing changed or PATTERN is
# still there (a new release changed the file: the patch needs a look).
patch_file() {
  local file="$1" pattern="$2"; shift 2
  local before; before="$(sha256sum <"$file")"
  sed -i "$@" "$file"
  if [[ "$(sha256sum <"$file")" == "$before" ]] || grep -q "$pattern" "$file"; then
    log "patching $file failed (pattern '$pattern' still there or nothing changed)"; return 1
  fi
}

# Compiles the Venafi issuer out of the build copies (see the header): the controller defaults name
# the two Venafi controllers by string instead of importing their packages, the command drops its
# import of the Venafi issuer.
patch_out_venafi() {
  local module_copy="$1" command_copy="$2"
  patch_file "$module_copy/internal/apis/config/controller/v1alpha1/defaults.go" 'controller/[a-z]*/venafi"' \
    -e '/venaficontroller "github.com\/cert-manager\/cert-manager\/pkg\/controller\/[a-z]*\/venafi"/d' \
    -e 's/crvenaficontroller\.CRControllerName/"certificaterequests-issuer-venafi"/' \
    -e 's/csrvenaficontroller\.CSRControllerName/"certificatesigningrequests-issuer-venafi"/'
  patch_file "$command_copy/app/start.go" 'pkg/issuer/venafi"' \
    -e '/_ "github.com\/cert-manager\/cert-manager\/pkg\/issuer\/venafi"/d'
}

build_controller() {
  local dir="$1" out="$2"
  rm -rf "$dir/src" "$dir/cert-manager" && mkdir -p "$dir/src"
  # A copy of the verified module (Go refuses to build edited files inside its module cache).
  cp -r "$(module_dir)" "$dir/cert-manager" && chmod -R u+w "$dir/cert-manager"
  # The suite installs the committed CRDs: they must be this version's (a bump without `crds` would
  # run the controller against another release's schemas).
  local f
  for f in "$dir"/cert-manager/deploy/crds/*.yaml; do
    cmp -s "$f" "$crds_dir/$(basename "$f")" || {
      log "test/cluster/crds/cert-manager/$(basename "$f") is not ${CERT_MANAGER_VERSION}'s: run scripts/build-cert-manager.sh crds"; return 1; }
  done
  cp -r "$command_src/main.go" "$command_src/app" "$dir/src/"
  patch_out_venafi "$dir/cert-manager" "$dir/src"
  # The module's go.mod decides every dependency's version (as it does for upstream's release);
  # `go build -mod=mod` adds the command's direct requirements at those versions.
  printf '// Generated by scripts/build-cert-manager.sh; do not edit.\nmodule %s/controller-binary\n\ngo 1.26.0\n\nrequire %s %s\n\nreplace %s => ../cert-manager\n' \
    "$module" "$module" "$CERT_MANAGER_VERSION" "$module" >"$dir/src/go.mod"
  # The version variables upstream's Makefile sets (pkg/util/version.go), so the controller's
  # start-up line and User-Agent name the release.
  (cd "$dir/src" && run_with_progress cert-manager-controller /tmp/kservice-build-cert-manager.log "" nice -n 19 go build -v -trimpath \
    -ldflags="-s -w -X ${module}/pkg/util.AppVersion=${CERT_MANAGER_VERSION} -X ${module}/pkg/util.AppGitState=clean" \
    -o "$dir/cert-manager-controller" .)
  install -m 0755 "$dir/cert-manager-controller" "$out/cert-manager-controller"
}

ensure_controller() {
  local name=cert-manager-controller
  local out="$cache_root/$name-$CERT_MANAGER_VERSION" stamp_content
  stamp_content="$name=$CERT_MANAGER_VERSION source=$(command_hash)"
  local stamp="$out/.stamp" build_dir="$cache_root/.build/$name-$CERT_MANAGER_VERSION"
  built() { [[ -f "$stamp" ]] && grep -qx "$stamp_content" "$stamp" && [[ -x "$out/$name" ]]; }
  if ! built; then
    mkdir -p "$out" "$build_dir"
    local fd
    exec {fd}>"$out.lock"
    log "$name: waiting for build lock $out.lock"
    flock "$fd"
    if ! built; then
      rm -f "$stamp"
      local t0=$SECONDS
      log "$name: building $CERT_MANAGER_VERSION into $out ($(go version))"
      build_controller "$build_dir" "$out"
      printf '%s\ngo=%s\nbuilt=%s\nseconds=%s\n' "$stamp_content" "$(go env GOVERSION)" \
        "$(date -u +%FT%TZ)" "$((SECONDS - t0))" >"$stamp"
      rm -rf "$build_dir"
    fi
    exec {fd}>&-
  fi
  log "$name: up to date: $out ($(sed -n '1p;4p' "$stamp" | paste -sd' '))"
  echo "$name=$out/$name"
}

# Copies deploy/crds/*.yaml from the module, unchanged, and records where they came from.
write_crds() {
  local src sum
  src="$(module_dir)"
  sum="$(go mod download -json "${module}@${CERT_MANAGER_VERSION}" | sed -n 's/.*"Sum": "\(.*\)".*/\1/p')"
  rm -rf "$crds_dir" && mkdir -p "$crds_dir"
  install -m 0644 "$src"/deploy/crds/*.yaml "$crds_dir/"
  {
    echo "# cert-manager CRDs ($CERT_MANAGER_VERSION)"
    echo
    echo "Written by \`scripts/build-cert-manager.sh crds\`, do not edit: \`deploy/crds/*.yaml\` of the Go module"
    echo "\`${module}@${CERT_MANAGER_VERSION}\` (module sum \`$sum\`), unchanged."
    echo "Apache License 2.0, © The cert-manager Authors."
    echo
    echo "Installed by test/cluster/harness/cert-manager.ts. All six are kept: the controller's informers"
    echo "list Challenges and Orders (acme.cert-manager.io) too, and its caches never sync without them."
    echo
    echo "| file | sha256 |"
    echo "| --- | --- |"
    (cd "$crds_dir" && for f in *.yaml; do echo "| $f | $(sha256sum "$f" | cut -d' ' -f1) |"; done)
  } >"$crds_dir/SOURCE.md"
  log "wrote $(ls "$crds_dir"/*.yaml | wc -l) CRDs to $crds_dir"
}

case "${1:-controller}" in
  controller) ensure_controller ;;
  crds) write_crds ;;
  *) echo "build-cert-manager: unknown argument '$1' (controller, crds)" >&2; exit 2 ;;
esac
