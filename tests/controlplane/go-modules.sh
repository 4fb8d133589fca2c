# Go module downloads for build.sh and helm/build.sh, which source this file. `go list -m`
# reads only the module cache and never downloads, so every module a build reads is first
# downloaded here, with retries; a failure names the module. The builds then run with
# GOPROXY=off, so a module this step missed fails the build at once instead of being fetched
# without retries. Needs a `log` function from the sourcing script.

download_attempts=5

with_retries() {  # with_retries WHAT CMD...: CMD, retried with backoff (2, 4, 8, 16 s)
  local what="$1" attempt delay=2
  shift
  for ((attempt = 1; ; attempt++)); do
    "$@" && return 0
    if ((attempt == download_attempts)); then
      log "could not download $what after $attempt attempts (GOPROXY=$(go env GOPROXY))"
      return 1
    fi
    log "downloading $what failed (attempt $attempt of $download_attempts); retrying in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2))
  done
}

go_mod_download() {  # go_mod_download DIR [MODULE...]: `go mod download` in DIR
  (cd "$1" && go mod download "${@:2}")
}

download_modules() {  # download_modules DIR: every module DIR/go.mod's packages and tools need
  log "downloading the modules of ${1#"$repo_root/"}/go.mod"
  with_retries "the modules of $1/go.mod" go_mod_download "$1" || exit 1
}

module_dir() {  # module_dir DIR MODULE: prints MODULE's directory in the module cache
  local dir
  with_retries "$2" go_mod_download "$1" "$2" || exit 1
  dir="$(cd "$1" && go list -m -f '{{.Dir}}' "$2")"
  if [[ -z "$dir" || ! -d "$dir" ]]; then
    log "$2 is not in the module cache ($(go env GOMODCACHE)) after downloading it"
    exit 1
  fi
  printf '%s' "$dir"
}
