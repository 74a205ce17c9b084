#!/usr/bin/env bash
# go-shim.sh — installed by install-kernel.sh as kernels/.bin/go, which is first on PATH *only inside the
# belm-go / gonb kernels* (their kernel.json env). Every `go` command is passed unchanged to the real go,
# except one case:
#
# Before each cell, GoNB runs a bare `go get` (no package arguments) in its temp module (`module gonb_…`).
# With the kernel's go.work seed (-go_work=<repo>), a cell may import the project's own packages, but
# `go get` ignores the workspace's requirements for anything else: an import such as gonum.org/v1/plot or
# github.com/janpfeifer/gonb/gonbui makes it ask the module proxy for @latest — which the proxy refuses for
# several pinned modules here, and which would pick other versions than the project's go.mod anyway.
# So for that bare `go get` in a GoNB temp module inside a workspace, this shim first adds to the temp
# go.mod a `require` for every requirement of the workspace's other modules (the project's go.mod) that it
# does not require yet: the notebook then builds with the versions pinned by the project's go.mod. Requirements the notebook set itself (`!*go get M@V`) are kept.
# Set BELM_GO_SHIM=off in the kernel's environment to disable it.
set -euo pipefail

self_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"

# The real go: the first `go` on PATH that is not this shim.
real_go=""
IFS=: read -r -a path_dirs <<<"${PATH:-}"
for d in "${path_dirs[@]}"; do
  [[ -n "$d" && -x "$d/go" && ! -d "$d/go" ]] || continue
  [[ "$(cd "$d" 2>/dev/null && pwd -P)" == "$self_dir" ]] && continue
  real_go="$d/go"
  break
done
if [[ -z "$real_go" ]]; then
  for g in /usr/local/go/bin/go /usr/lib/go/bin/go /usr/bin/go; do
    [[ -x "$g" ]] && { real_go="$g"; break; }
  done
fi
[[ -n "$real_go" ]] || { echo "go shim ($0): no real go found on PATH" >&2; exit 127; }

bare_get=0
if [[ "${1:-}" == get && "${BELM_GO_SHIM:-on}" != off ]]; then
  bare_get=1
  for a in "${@:2}"; do
    [[ "$a" == -* ]] || { bare_get=0; break; }
  done
fi

if ((bare_get)) && [[ -f go.work && -f go.mod ]] && grep -q '^module gonb_' go.mod; then
  # Requirements of the workspace's other modules (the project's go.mod: its pinned versions).
  req_paths() { # GO.MOD -> one "path@version" per requirement
    "$real_go" mod edit -json "$1" | awk '/^\t"Require": \[/ {r=1; next} r && /^\t\]/ {r=0}
      r && /"Path":/ {gsub(/[",]/, "", $2); p=$2} r && /"Version":/ {gsub(/[",]/, "", $2); print p "@" $2}'
  }
  have="$(req_paths go.mod | sed 's/@.*//')"
  args=()
  while read -r dir; do
    [[ -n "$dir" && "$dir" != . && -f "$dir/go.mod" ]] || continue
    while read -r mv; do
      [[ -n "$mv" ]] || continue
      p="${mv%@*}"
      grep -qxF "$p" <<<"$have" && continue
      have+=$'\n'"$p"
      args+=("-require=$mv")
    done < <(req_paths "$dir/go.mod")
  done < <("$real_go" work edit -json | awk '/"DiskPath":/ {gsub(/[",]/, "", $2); print $2}')
  if ((${#args[@]})); then
    "$real_go" mod edit "${args[@]}"
  fi
fi
exec "$real_go" "$@"
