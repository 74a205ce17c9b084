#!/usr/bin/env bash
# browser-test.sh — one notebook, run in a real Jupyter Notebook page in headless Chromium.
#
#   bash kernels/browser-test.sh [NOTEBOOK.ipynb [OUTDIR]]     (default: notebooks/01_lte_derivation.ipynb, out/browser)
#
# Starts Debian's Jupyter Notebook server (/usr/bin/jupyter notebook, installed by install-kernel.sh) on
# 127.0.0.1 with a free port, a random token, no browser, a temporary runtime + config dir and a temporary
# copy of the notebook (the repo file is never touched); the kernel spec comes from $JUPYTER_DATA_DIR like
# run-notebooks.sh (make test-browser passes kernels/.jupyter). Then kernels/tools/nbbrowser (Go, chromedp:
# Chromium over the DevTools protocol) opens the notebook, clicks Cell → Run All and checks the page: output
# <img>s >= the notebook's belm.expect min_images, each decoded (naturalWidth > 0); no .output_error and no
# stderr with "error"/"panic"; every non-blank code cell has an execution count. It names each failing cell
# and quotes what it shows. OUTDIR gets NAME.png (full-page screenshot) and NAME.ipynb (the page's notebook).
# The server (with its kernel) and the browser are stopped on success, failure and Ctrl-C.
#
# Installs Debian's chromium if missing (apt-get, as root or through sudo, no recommends).
# Environment: BELM_BROWSER_TIMEOUT (seconds for all cells, default 600), BELM_SKIP_APT=1 (never apt).
# Exit: 0 ok; 1 a check failed; 2 setup (no Jupyter/kernel/Chromium, server or page never ready); 130 Ctrl-C.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/.." && pwd -P)"
py=/usr/bin/python3
bin_dir="${BELM_BIN_DIR:-$here/.bin}"

die() { printf 'browser-test.sh: error: %s\n' "$*" >&2; exit 2; }

[[ "${1:-}" != -h && "${1:-}" != --help ]] || { sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
nb="${1:-$repo/notebooks/01_lte_derivation.ipynb}"
outdir="${2:-$repo/out/browser}"
[[ -f "$nb" ]] || die "no such notebook: $nb"
name="$(basename "$nb")"
mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd -P)"
t0=$(date +%s.%N)
elapsed() { awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}'; }

# ---------------------------------------------------------------- 1. Chromium (Debian) + Jupyter
if ! dpkg -s chromium 2>/dev/null | grep -q '^Status: install ok installed'; then
  [[ "${BELM_SKIP_APT:-0}" != 1 ]] || die "Debian package chromium is missing and BELM_SKIP_APT=1"
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to install chromium"
    sudo=(sudo)
  fi
  echo "installing Debian's chromium (apt-get, no recommends)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium missing after installing chromium"
[[ -x /usr/bin/jupyter ]] && "$py" -c 'import notebook' 2>/dev/null \
  || die "Debian's Jupyter Notebook is missing: run bash kernels/install-kernel.sh"
kernel="$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["kernelspec"]["name"])' "$nb" 2>/dev/null)" \
  || die "$nb has no metadata.kernelspec.name"
"$py" -m jupyter_client.kernelspecapp list --json 2>/dev/null \
  | "$py" -c 'import json,sys; sys.exit(sys.argv[1] not in json.load(sys.stdin)["kernelspecs"])' "$kernel" \
  || die "Jupyter kernel '$kernel' is not installed in $(/usr/bin/jupyter --data-dir): run bash kernels/install-kernel.sh (same JUPYTER_DATA_DIR)"

# ---------------------------------------------------------------- 2. the driver (kernels/tools, chromedp)
# GOWORK=off: the pinned versions of kernels/tools, whatever go.work is above it. A no-op when up to date.
(cd "$here/tools" && GOWORK=off go build -o "$bin_dir/nbbrowser" ./nbbrowser) || die "building kernels/tools/nbbrowser failed"

# ---------------------------------------------------------------- 3. the server, cleaned up on any exit
tmp="$(mktemp -d "${TMPDIR:-/tmp}/belm-browser.XXXXXX")"
server_pid=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    # SIGTERM: the server shuts its kernels down (cleanup_kernels), then exits.
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  # A kernel the server could not stop: its argv names its connection file in our runtime dir; jupyter_client
  # starts each kernel in its own session, so its process group holds the cell's go build / program too.
  local k
  for k in $(pgrep -f -- "$tmp/runtime/kernel-" 2>/dev/null || true); do
    kill -KILL -- "-$k" 2>/dev/null || kill -KILL "$k" 2>/dev/null || true
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$tmp/nb" "$tmp/runtime" "$tmp/config" "$tmp/profile"
cp "$nb" "$tmp/nb/$name"
token="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
allow_root=()
((EUID != 0)) || allow_root=(--allow-root)
port=""
t_server=$(date +%s.%N)
t_server_at=$(elapsed) # apt check + driver build before this
for attempt in 1 2 3; do
  port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # setsid: a Ctrl-C on the terminal reaches this script and the driver, not the server: cleanup stops it.
  JUPYTER_RUNTIME_DIR="$tmp/runtime" JUPYTER_CONFIG_DIR="$tmp/config" PYDEVD_DISABLE_FILE_VALIDATION=1 \
    setsid /usr/bin/jupyter notebook --no-browser --ip=127.0.0.1 --port="$port" --port-retries=0 \
    --NotebookApp.token="$token" --notebook-dir="$tmp/nb" "${allow_root[@]}" \
    --NotebookNotary.db_file=:memory: --NotebookNotary.secret_file="$tmp/notary_secret" \
    >"$tmp/server.log" 2>&1 </dev/null &
  server_pid=$!
  up=0
  for _ in $(seq 300); do # 60 s
    kill -0 "$server_pid" 2>/dev/null || break
    if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://127.0.0.1:$port/api/status?token=$token" 2>/dev/null; then
      up=1
      break
    fi
    sleep 0.2
  done
  ((up)) && break
  if kill -0 "$server_pid" 2>/dev/null || ! grep -q 'already in use' "$tmp/server.log"; then
    sed "s/$token/<token>/g" "$tmp/server.log" | tail -20 | sed 's/^/    server: /' >&2
    die "the Jupyter server did not come up on 127.0.0.1:$port"
  fi
  server_pid="" # the port was taken between the probe and the server's bind: try another
done
((up)) || die "no free port for the Jupyter server after 3 tries"
echo "== browser test: $name in Jupyter Notebook $(/usr/bin/jupyter notebook --version) on 127.0.0.1:$port (kernel $kernel)," \
  "$(/usr/bin/chromium --version 2>/dev/null | sed 's/ built on.*//') headless; checks + driver build ${t_server_at}s," \
  "server up in $(awk -v a="$t_server" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')s"

# ---------------------------------------------------------------- 4. run it in the browser
rc=0
"$bin_dir/nbbrowser" -url "http://127.0.0.1:$port" -token "$token" -ipynb "$tmp/nb/$name" -out "$outdir" \
  -timeout "${BELM_BROWSER_TIMEOUT:-600}s" -user-data-dir "$tmp/profile" || rc=$?
if ((rc == 130)); then
  exit 130
elif ((rc != 0)); then
  echo "  the Jupyter server's log (last 10 lines):"
  sed "s/$token/<token>/g" "$tmp/server.log" | tail -10 | sed 's/^/    | /'
  echo "FAIL browser test: $nb ($(elapsed)s); what the page showed: $outdir/${name%.ipynb}.png, $outdir/$name" >&2
  exit "$rc"
fi
echo "browser test ok: $nb in $(elapsed)s (screenshot: $outdir/${name%.ipynb}.png)"
