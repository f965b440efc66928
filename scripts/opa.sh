#!/usr/bin/env bash
# OPA tooling: pin the CLI, check/test policies, build Wasm bundles, and detect stale committed bundles.
#
# Usage: scripts/opa.sh ensure|check|test|build|check-stale
#
# Each policies/<name>/ holds Rego, data.json and a .manifest whose metadata names the bundle
# (name, version, entrypoints). `opa build -b` honours that .manifest (roots, metadata) and
# copies it into the bundle, so adding a policy needs no change here.
# Built bundles live at policies/bundles/<name>/<version>.tar.gz, are committed, and are
# immutable per version: once committed, changing sources means bumping the version.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

POLICIES_DIR=policies
BUNDLES_DIR=policies/bundles
# The one place the CLI version is pinned.
VERSION="$(tr -d '[:space:]' <"$POLICIES_DIR/OPA_VERSION")"
OPA=""
WORK=""
trap '[[ -n "$WORK" ]] && rm -rf "$WORK"' EXIT

# One scratch directory per run, removed on exit.
workdir() {
  [[ -n "$WORK" ]] || WORK="$(mktemp -d)"
}

log() { echo "opa.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# "Version: 1.22.2" -> "v1.22.2"; empty when the binary does not run.
opa_version_of() {
  local v
  v="$("$1" version 2>/dev/null | awk '/^Version:/ { print $2; exit }')" || true
  [[ -n "$v" ]] && echo "v${v#v}"
  return 0
}

find_go() {
  if command -v go >/dev/null 2>&1; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  fi
}

# Sets OPA to a binary of exactly the pinned version, installing it into .tools/bin if needed.
ensure() {
  [[ -n "$OPA" ]] && return 0
  local go candidates=() c found
  go="$(find_go)"
  candidates+=("$repo/.tools/bin/opa")
  if command -v opa >/dev/null 2>&1; then candidates+=("$(command -v opa)"); fi
  if [[ -n "$go" ]]; then candidates+=("$("$go" env GOPATH)/bin/opa"); fi

  for c in "${candidates[@]}"; do
    [[ -x "$c" ]] || continue
    found="$(opa_version_of "$c")"
    if [[ "$found" == "$VERSION" ]]; then
      OPA="$c"
      return 0
    fi
    log "ignoring $c: version ${found:-unknown}, pinned $VERSION"
  done

  if [[ -z "$go" ]]; then
    die "opa $VERSION not found (.tools/bin, PATH, GOPATH/bin) and Go is not installed to build it: go: command not found"
  fi
  log "OPA $VERSION not found; installing it with go install github.com/open-policy-agent/opa@$VERSION into $repo/.tools/bin (once; a few minutes)"
  local rc=0
  GOBIN="$repo/.tools/bin" "$go" install "github.com/open-policy-agent/opa@$VERSION" || rc=$?
  if [[ $rc -ne 0 ]]; then
    die "go install github.com/open-policy-agent/opa@$VERSION failed with exit code $rc (see Go's error above)"
  fi
  found="$(opa_version_of "$repo/.tools/bin/opa")"
  [[ "$found" == "$VERSION" ]] || die "installed .tools/bin/opa reports version ${found:-unknown}, expected $VERSION"
  OPA="$repo/.tools/bin/opa"
}

# Every policies/<name>/ except the build output.
policy_dirs() {
  local d
  shopt -s nullglob
  for d in "$POLICIES_DIR"/*/; do
    d="${d%/}"
    [[ "$d" == "$BUNDLES_DIR" ]] && continue
    echo "$d"
  done
}

# Reads one field from a policy's .manifest with opa itself (no jq dependency).
manifest_field() {
  "$OPA" eval --format raw -i "$1/.manifest" "$2"
}

check_one() {
  "$OPA" check --strict "$1"
}

cmd_check() {
  ensure
  local d
  for d in $(policy_dirs); do
    log "check $d"
    check_one "$d"
  done
}

cmd_test() {
  ensure
  local d
  for d in $(policy_dirs); do
    log "check $d"
    check_one "$d"
    log "test $d"
    "$OPA" test -v "$d"
  done
}

# Builds policy dir $1 into $2/<name>/<version>.tar.gz and prints that path.
build_one() {
  local dir="$1" out_root="$2" name version revision entrypoints e out
  [[ -f "$dir/.manifest" ]] || die "$dir has no .manifest (needs revision, roots, metadata.name/version/entrypoints)"
  name="$(manifest_field "$dir" 'input.metadata.name')"
  version="$(manifest_field "$dir" 'input.metadata.version')"
  revision="$(manifest_field "$dir" 'input.revision')"
  entrypoints="$(manifest_field "$dir" 'concat(" ", input.metadata.entrypoints)')"
  [[ -n "$name" && -n "$version" ]] || die "$dir/.manifest: metadata.name and metadata.version are required"
  [[ "$name" == "$(basename "$dir")" ]] || die "$dir/.manifest: metadata.name '$name' must match the directory name"
  [[ "$revision" == "$version" ]] || die "$dir/.manifest: revision '$revision' must equal metadata.version '$version'"
  [[ -n "$entrypoints" ]] || die "$dir/.manifest: metadata.entrypoints must list at least one entrypoint"

  check_one "$dir" >&2
  local eargs=()
  for e in $entrypoints; do eargs+=(-e "$e"); done
  out="$out_root/$name/$version.tar.gz"
  mkdir -p "$(dirname "$out")"
  # -b: honour .manifest (roots are enforced, metadata kept). Tests never ship.
  "$OPA" build -t wasm "${eargs[@]}" --revision "$version" --ignore '*_test.rego' -b "$dir" -o "$out" >&2
  echo "$out"
}

# Extracts tarball $1 into a new directory $2 (tar warns about the leading "/"; only real errors surface).
extract() {
  mkdir -p "$2"
  if ! tar -xzf "$1" -C "$2" 2>"$2.err"; then
    cat "$2.err" >&2
    die "cannot extract $1"
  fi
}

# Same extracted contents (policy.wasm, data.json, .manifest and the Rego sources)?
# Tarball bytes are not compared so tar metadata can never cause a false alarm.
same_contents() {
  local work="$3"
  rm -rf "$work/a" "$work/b"
  extract "$1" "$work/a"
  extract "$2" "$work/b"
  diff -r -q "$work/a" "$work/b" >/dev/null
}

is_committed() {
  git -C "$repo" cat-file -e "HEAD:$1" 2>/dev/null
}

cmd_build() {
  ensure
  local tmp d built target
  workdir
  tmp="$WORK"
  for d in $(policy_dirs); do
    log "build $d"
    built="$(build_one "$d" "$tmp/out")"
    target="$BUNDLES_DIR/${built#"$tmp/out/"}"
    if [[ -f "$target" ]] && same_contents "$built" "$target" "$tmp"; then
      log "$target is up to date"
      continue
    fi
    if [[ -f "$target" ]] && is_committed "$target"; then
      die "$target is committed and bundles are immutable per version: bump the version in $d/.manifest (revision and metadata.version)"
    fi
    mkdir -p "$(dirname "$target")"
    cp "$built" "$target"
    log "wrote $target"
  done
}

cmd_check_stale() {
  ensure
  local tmp d built target stale=0
  workdir
  tmp="$WORK"
  for d in $(policy_dirs); do
    built="$(build_one "$d" "$tmp/out")"
    target="$BUNDLES_DIR/${built#"$tmp/out/"}"
    if [[ ! -f "$target" ]]; then
      log "stale: $target is missing for $d: run npm run policies:build"
      stale=1
    elif ! same_contents "$built" "$target" "$tmp"; then
      log "stale: $target does not match the sources in $d: run npm run policies:build (bump the version in $d/.manifest first if $target is already committed)"
      stale=1
    else
      log "$target is up to date"
    fi
  done
  return "$stale"
}

case "${1:-}" in
  ensure)
    ensure
    echo "$OPA"
    ;;
  check) cmd_check ;;
  test) cmd_test ;;
  build) cmd_build ;;
  check-stale) cmd_check_stale ;;
  *)
    echo "usage: $0 ensure|check|test|build|check-stale" >&2
    exit 2
    ;;
esac
