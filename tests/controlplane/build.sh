#!/usr/bin/env bash
# Builds the local Kubernetes control plane used by the cluster test tier into .farflow/bin/:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok, all from
# their Go modules (pinned by go.mod/go.sum here and in kwok/), plus kwok-stages.yaml: the
# default stages of the pinned kwok release, which the kwok binary itself does not load.
# kwok is built with the patches in kwok/*.patch applied (each says why); copies of them are
# published beside the binaries, so a .farflow/bin built without one looks incomplete.
#
# Built binaries are kept in a cache outside the repository, keyed by a hash of the module
# files and this script, so a second build on the same machine only re-links .farflow/bin.
# Set FARFLOW_CONTROLPLANE_CACHE to move that cache.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
bin_dir="$repo_root/.farflow/bin"
kwok_patches=("$here"/kwok/*.patch)
artifacts=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwok-stages.yaml)
artifacts+=("${kwok_patches[@]##*/}")

cache_root="${FARFLOW_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/farflow/controlplane}"
key="$(cd "$here" && cat go.mod go.sum kwok/go.mod kwok/go.sum kwok/*.patch build.sh \
  go-modules.sh | sha256sum | cut -c1-16)"
cache_dir="$cache_root/$key"

export CGO_ENABLED=0
# Everything is downloaded before the builds (go-modules.sh), which then need no network.
go_build=(env GOPROXY=off go build -trimpath -buildvcs=false)

log() { printf 'controlplane: %s\n' "$*" >&2; }

# shellcheck source=go-modules.sh
source "$here/go-modules.sh"

cached() {
  local name
  for name in "${artifacts[@]}"; do
    [[ -f "$cache_dir/$name" ]] || return 1
  done
}

module_version() {  # module_version DIR MODULE -> the version DIR's build list selects
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

kube_ldflags() {
  local version major minor
  version="$(module_version "$here" k8s.io/kubernetes)"
  major="${version#v}"; major="${major%%.*}"
  minor="${version#v*.}"; minor="${minor%%.*}"
  local flags="-s -w" pkg
  # Stamp the release into the binaries, as Kubernetes' own build does; `kubectl version`
  # and the API server's /version report it.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean"
  done
  printf '%s' "$flags"
}

build_into() {  # build_into DIR: builds every binary into DIR
  local out="$1"
  download_modules "$here"
  download_modules "$here/kwok"
  log "building Kubernetes $(module_version "$here" k8s.io/kubernetes) (this takes a while cold)"
  (cd "$here" && "${go_build[@]}" -ldflags "$(kube_ldflags)" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    k8s.io/kubernetes/cmd/kubectl)
  log "building etcd $(module_version "$here" go.etcd.io/etcd/server/v3)"
  (cd "$here" && "${go_build[@]}" -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  log "building kwok $(module_version "$here/kwok" sigs.k8s.io/kwok) with ${kwok_patches[*]##*/}"
  build_kwok "$out"
  kwok_stages > "$out/kwok-stages.yaml"
}

build_kwok() {  # build_kwok DIR: kwok from a copy of its pinned module with kwok/*.patch applied
  local out="$1" work="$1/.kwok-build" patch source
  # The module cache is read-only (and go build -overlay may not replace files in it), so
  # build from a patched copy that a throwaway copy of kwok/go.mod points to.
  source="$(module_dir "$here/kwok" sigs.k8s.io/kwok)"
  mkdir "$work"
  cp -R "$source" "$work/kwok"
  chmod -R u+w "$work/kwok"
  for patch in "${kwok_patches[@]}"; do
    patch --batch --forward --quiet -p1 -d "$work/kwok" < "$patch"
    cp "$patch" "$out/"
  done
  cp "$here/kwok/go.mod" "$work/go.mod"
  cp "$here/kwok/go.sum" "$work/go.sum"
  go mod edit -replace="sigs.k8s.io/kwok=$work/kwok" "$work/go.mod"
  (cd "$here/kwok" && "${go_build[@]}" -modfile="$work/go.mod" -ldflags "-s -w" \
    -o "$out/kwok" sigs.k8s.io/kwok/cmd/kwok)
  rm -rf "$work"
}

kwok_stages() {
  # What `kwokctl create cluster` configures by default: nodes become Ready and keep a
  # heartbeat; pods become Running and Ready, Job pods then Succeed, deleted pods go away.
  local source stage
  source="$(module_dir "$here/kwok" sigs.k8s.io/kwok)/kustomize/stage"
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat \
    pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'
    cat "$source/$stage.yaml"
  done
}

staging=""  # global, so the EXIT trap still sees it when the build fails

fill_cache() {
  if ! command -v go >/dev/null; then
    log "Go (1.26 or later) is needed to build the control plane; it is not on PATH"
    exit 1
  fi
  if ! command -v patch >/dev/null; then
    log "patch is needed to build kwok (apt-get install patch); it is not on PATH"
    exit 1
  fi
  mkdir -p "$cache_root"
  staging="$(mktemp -d "$cache_root/.build-XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  build_into "$staging"
  # Publish with one rename so an interrupted build never looks complete; a concurrent
  # build that published first wins.
  if cached; then
    rm -rf "$staging"
  else
    rm -rf "$cache_dir"
    mv -T "$staging" "$cache_dir"
  fi
  trap - EXIT
}

link_binaries() {
  mkdir -p "$bin_dir"
  local name
  for name in "${artifacts[@]}"; do
    ln -sfn "$cache_dir/$name" "$bin_dir/$name"
  done
}

main() {
  if cached; then
    log "using cached binaries in $cache_dir"
  else
    fill_cache
  fi
  link_binaries
  log "ready in $bin_dir: ${artifacts[*]}"
}

main "$@"
