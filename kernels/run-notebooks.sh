#!/usr/bin/env bash
# run-notebooks.sh — execute notebooks headless with the belm-go kernel, then check them.
#
#   bash kernels/run-notebooks.sh OUTDIR [NOTEBOOK.ipynb...]
#
# Default notebooks: every notebooks/*.ipynb of the repo, sorted. Each one runs with
#   /usr/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600
#                              --ExecutePreprocessor.kernel_name=belm-go
# (working directory = the notebook's folder) and its executed copy, images included, is written to
# OUTDIR/<name>.ipynb (the nbconvert log to OUTDIR/<name>.log). A cell error stops that notebook: the
# script names the notebook and the failing cell, goes on with the others, and exits 1 at the end.
# Then kernels/nbcheck checks every executed copy (error outputs, cells that did not run, metadata
# belm.expect). Needs `bash kernels/install-kernel.sh` first.
#
# Environment: BELM_NB_TIMEOUT (per-cell seconds, default 600), BELM_NB_KERNEL (default belm-go),
# BELM_NB_LIVE (default off here: interactive cells show their defaults without waiting for a page),
# BELM_NB_ALLOW_ERRORS=1: pass --allow-errors, so a failing notebook runs to its end and its executed
# copy is kept; nbcheck then names each failing cell and quotes its stderr (a Go panic message is
# there, not in nbconvert's error). The script still exits 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/.." && pwd -P)"
kernel="${BELM_NB_KERNEL:-belm-go}"
timeout="${BELM_NB_TIMEOUT:-600}"
py=/usr/bin/python3

die() { printf 'run-notebooks.sh: error: %s\n' "$*" >&2; exit 2; }

(($# >= 1)) || die "usage: $0 OUTDIR [NOTEBOOK.ipynb...]"
[[ "$1" != -h && "$1" != --help ]] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
outdir="$1"
shift
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd -P)"

if (($# > 0)); then
  notebooks=("$@")
else
  shopt -s nullglob
  found=("$repo"/notebooks/*.ipynb)
  shopt -u nullglob
  notebooks=()
  ((${#found[@]} == 0)) || mapfile -t notebooks < <(printf '%s\n' "${found[@]}" | LC_ALL=C sort)
  ((${#notebooks[@]} > 0)) || die "no notebooks in $repo/notebooks (pass notebook paths explicitly)"
fi

[[ -x /usr/bin/jupyter ]] || die "/usr/bin/jupyter missing: run bash kernels/install-kernel.sh"
spec="$($py -m jupyter_client.kernelspecapp list --json 2>/dev/null \
  | $py -c 'import json,sys; print(json.load(sys.stdin)["kernelspecs"].get(sys.argv[1], {}).get("resource_dir", ""))' "$kernel")"
[[ -n "$spec" ]] || die "Jupyter kernel '$kernel' is not installed: run bash kernels/install-kernel.sh"

# No Jupyter front end here: keep nbconvert quiet and non-interactive (CI: root, no TTY).
export PYDEVD_DISABLE_FILE_VALIDATION=1
# No page either: live controls (viz/nb.Interact) show their defaults at once instead of asking for a page
# and waiting ~3-5 s per interactive cell, and leave no GoNB <script> in the executed copies.
export BELM_NB_LIVE="${BELM_NB_LIVE:-off}"

declare -A seen=()
failed=()
executed=()
total_start=$(date +%s.%N)
for nb in "${notebooks[@]}"; do
  [[ -f "$nb" ]] || { echo "FAIL $nb: no such file"; failed+=("$nb"); continue; }
  name="$(basename "$nb" .ipynb)"
  [[ -z "${seen[$name]:-}" ]] || die "two notebooks named $name.ipynb ($nb, ${seen[$name]}): their executed copies would collide in $outdir"
  seen[$name]="$nb"
  out="$outdir/$name.ipynb"
  log="$outdir/$name.log"
  rm -f "$out"
  printf '%-40s ' "$nb"
  start=$(date +%s.%N)
  rc=0
  extra=()
  [[ "${BELM_NB_ALLOW_ERRORS:-0}" != 1 ]] || extra=(--allow-errors)
  /usr/bin/jupyter nbconvert --to notebook --execute "${extra[@]}" \
    --ExecutePreprocessor.timeout="$timeout" \
    --ExecutePreprocessor.kernel_name="$kernel" \
    --output-dir "$outdir" --output "$name" "$nb" >"$log" 2>&1 || rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
  if ((rc == 0)) && [[ -f "$out" ]]; then
    if ((${#extra[@]})); then echo "ran   ${secs}s"; else echo "ok    ${secs}s"; fi
    executed+=("$out")
    continue
  fi
  echo "FAIL  ${secs}s"
  failed+=("$nb")
  # nbclient's CellExecutionError quotes the failing cell between two dashed lines, then the error.
  $py - "$nb" "$log" <<'EOF' || tail -n 30 "$log" | sed 's/^/    | /'
import json, re, sys
nb_path, log_path = sys.argv[1:]
log = open(log_path, errors="replace").read()
m = re.search(r"An error occurred while executing the following cell:\n-+\n(.*?)\n-+\n(.*)", log, re.S)
if not m:
    sys.exit(1)
src, err = m.group(1), m.group(2)
where = "a cell"
try:
    cells = json.load(open(nb_path))["cells"]
    for i, c in enumerate(cells):
        s = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        if c.get("cell_type") == "code" and s.strip() == src.strip():
            where = "cell %d%s" % (i + 1, " (id %s)" % c["id"] if c.get("id") else "")
            break
except Exception:
    pass
print("    %s failed in %s:" % (nb_path, where))
for line in src.splitlines()[:15]:
    print("    | " + line)
err = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", err).strip().splitlines()
print("    error:")
for line in err[:40]:
    print("    ! " + line)
EOF
  echo "    full log: $log (the cell's stderr, e.g. a panic message, is not in it: re-run with"
  echo "    BELM_NB_ALLOW_ERRORS=1 to keep the executed copy and have nbcheck quote it)"
done
total=$(awk -v a="$total_start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
echo "executed ${#executed[@]}/${#notebooks[@]} notebook(s) in ${total}s -> $outdir"

check_rc=0
if ((${#executed[@]} > 0)); then
  echo "== nbcheck"
  # nbcheck is a stdlib-only package main of the root module.
  (cd "$repo" && go run ./kernels/nbcheck "${executed[@]}") || check_rc=$?
fi
if ((${#failed[@]} > 0)); then
  echo "FAILED to execute: ${failed[*]}" >&2
  exit 1
fi
if ((check_rc != 0)); then
  echo "nbcheck failed" >&2
  exit 1
fi
echo "all notebooks ok"
