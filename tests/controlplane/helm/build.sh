#!/usr/bin/env bash
# Builds helm (v3, from its Go module pinned by go.mod/go.sum here) into .farflow/bin/helm for
# the Helm chart tests (tests/helm). The same caching scheme as ../build.sh: the binary is kept
# in a cache outside the repository, keyed by a hash of the module files and this script, so a
# second build on the same machine only re-links .farflow/bin/helm. It lives apart from
# ../build.sh so that pinning a new Helm does not rebuild Kubernetes (that key hashes its
# script). Set FARFLOW_CONTROLPLANE_CACHE to move the cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../../.." && pwd)"
bin_dir="$repo_root/.farflow/bin"
cache_root="${FARFLOW_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/farflow/controlplane}"
key="$(cat "$here/go.mod" "$here/go.sum" "$here/build.sh" "$here/../go-modules.sh" \
  | sha256sum | cut -c1-16)"
cache_dir="$cache_root/helm-$key"

export CGO_ENABLED=0

log() { printf 'helm: %s\n' "$*" >&2; }

# shellcheck source=../go-modules.sh
source "$here/../go-modules.sh"

staging=""  # global, so the EXIT trap still sees it when the build fails

fill_cache() {
  if ! command -v go >/dev/null; then
    log "Go (1.26 or later) is needed to build helm; it is not on PATH"
    exit 1
  fi
  local version client_go major minor flags="-s -w" pkg
  download_modules "$here"
  version="$(cd "$here" && go list -m -f '{{.Version}}' helm.sh/helm/v3)"
  # Helm's Makefile stamps its release, and the Kubernetes version its client-go library
  # targets (v0.N.x is Kubernetes 1.N): `helm template` and `helm lint` assume that version.
  client_go="$(cd "$here" && go list -m -f '{{.Version}}' k8s.io/client-go)"
  major="${client_go#v}"; major="$(( ${major%%.*} + 1 ))"
  minor="${client_go#v*.}"; minor="${minor%%.*}"
  flags+=" -X helm.sh/helm/v3/internal/version.version=$version"
  flags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    flags+=" -X $pkg.k8sVersionMajor=$major -X $pkg.k8sVersionMinor=$minor"
  done
  mkdir -p "$cache_root"
  staging="$(mktemp -d "$cache_root/.build-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  log "building helm $version (for Kubernetes $major.$minor)"
  (cd "$here" && GOPROXY=off go build -trimpath -buildvcs=false -ldflags "$flags" \
    -o "$staging/helm" helm.sh/helm/v3/cmd/helm)
  # Publish with one rename so an interrupted build never looks complete.
  if [[ -f "$cache_dir/helm" ]]; then
    rm -rf "$staging"
  else
    rm -rf "$cache_dir"
    mv -T "$staging" "$cache_dir"
  fi
  trap - EXIT
}

main() {
  if [[ -f "$cache_dir/helm" ]]; then
    log "using the cached binary in $cache_dir"
  else
    fill_cache
  fi
  mkdir -p "$bin_dir"
  ln -sfn "$cache_dir/helm" "$bin_dir/helm"
  log "ready: $bin_dir/helm"
}

main "$@"
