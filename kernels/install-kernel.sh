#!/usr/bin/env bash
# install-kernel.sh — set up headless/interactive Jupyter + GoNB for this checkout.
#
#   bash kernels/install-kernel.sh
#
# Steps (each is skipped when already done, so a re-run takes ~1 s):
#   1. Debian packages jupyter-nbconvert python3-nbclient jupyter-notebook (apt-get only if one is missing).
#   2. gonb + goimports built from the pinned tools module kernels/tools into kernels/.bin (git-ignored),
#      plus kernels/.bin/go, a shim (kernels/go-shim.sh) that only the kernels see.
#   3. Jupyter kernels, in the user's Jupyter data dir (~/.local/share/jupyter/kernels, or $JUPYTER_DATA_DIR):
#        gonb     GoNB's own kernel ("Go (gonb)"), via `gonb --install --force_deps`
#        belm-go  "BELM (Go)": gonb with -go_work=<this checkout>, so notebooks resolve
#                 github.com/belmlab/workbench (and its pinned dependencies) from this checkout.
#      Both kernel specs put kernels/.bin and Go's bin dir first on PATH, so goimports (and the go shim)
#      are found at kernel run time without the user editing PATH.
#   4. Editor settings for Go cells in Jupyter Notebook 6, in the user's Jupyter config dir (~/.jupyter, or
#      $JUPYTER_CONFIG_DIR): nbconfig/notebook.json gets CodeCell cm_config lineWrapping, indentUnit 4,
#      tabSize 4, indentWithTabs (merged: other keys, and values the user set, are kept), and
#      custom/custom.css a marked block that hides the "——→" picture Notebook 6 draws on every tab.
#   5. The notebooks' git filter (nbstrip) in this clone's .git/config.
#
# Environment: BELM_BIN_DIR (default kernels/.bin), JUPYTER_DATA_DIR and JUPYTER_CONFIG_DIR (Jupyter's own),
# FORCE=1 (rebuild + reinstall everything; the editor settings replace the user's values),
# BELM_SKIP_APT=1 (do not touch Debian packages; Jupyter must already be there), BELM_EDITOR_CONFIG=0
# (leave the editor settings alone).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd "$here/.." && pwd -P)"
bin_dir="${BELM_BIN_DIR:-$here/.bin}"
py=/usr/bin/python3 # Debian's python: Jupyter is installed for it, not for a pyenv python3 on PATH.
force="${FORCE:-0}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
info() { printf '    %s\n' "$*"; }
die() { printf 'install-kernel.sh: error: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null || die "go is not on PATH (install Go 1.26+, e.g. /usr/local/go/bin)"
go_bin_dir="$(dirname "$(command -v go)")"

# ---------------------------------------------------------------- 1. Debian packages
say "Jupyter (Debian packages)"
pkgs=(jupyter-nbconvert python3-nbclient jupyter-notebook)
missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  info "already installed: ${pkgs[*]}"
elif [[ "${BELM_SKIP_APT:-0}" == 1 ]]; then
  die "missing Debian packages ${missing[*]} and BELM_SKIP_APT=1"
else
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=(sudo)
  fi
  info "installing: ${missing[*]} (apt-get, no recommends)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi
[[ -x /usr/bin/jupyter ]] || die "/usr/bin/jupyter not found after installing ${pkgs[*]}"
"$py" -c 'import nbclient, nbconvert, jupyter_client' 2>/dev/null \
  || die "$py cannot import nbclient/nbconvert/jupyter_client"

# ---------------------------------------------------------------- 2. gonb + goimports
say "gonb + goimports (pinned in kernels/tools/go.mod) -> $bin_dir"
mkdir -p "$bin_dir"
up_to_date=1
for t in gonb goimports; do
  if [[ "$force" == 1 || ! -x "$bin_dir/$t" || "$here/tools/go.mod" -nt "$bin_dir/$t" || "$here/tools/go.sum" -nt "$bin_dir/$t" ]]; then
    up_to_date=0
  fi
done
if ((up_to_date)); then
  info "up to date"
else
  # `go install tool` installs every tool of the module (Go 1.24+ `tool` directive) into GOBIN.
  # GOWORK=off: never let a go.work above kernels/tools change the pinned versions.
  (cd "$here/tools" && GOWORK=off GOBIN="$bin_dir" go install tool)
  touch "$bin_dir/gonb" "$bin_dir/goimports"
  info "built $("$bin_dir/gonb" -V 2>/dev/null | head -1 || echo gonb) and goimports"
fi
gonb="$bin_dir/gonb"
[[ -x "$gonb" && -x "$bin_dir/goimports" ]] || die "gonb/goimports missing in $bin_dir"
# The `go` shim (see kernels/go-shim.sh): lets a cell import third-party packages at the project's
# pinned versions (e.g. gonum.org/v1/plot, gonbui) with no first-cell `go get`.
if cmp -s "$here/go-shim.sh" "$bin_dir/go"; then
  info "go shim up to date: $bin_dir/go"
else
  install -m 0755 "$here/go-shim.sh" "$bin_dir/go"
  info "installed go shim: $bin_dir/go (kernels only; passes everything else to $go_bin_dir/go)"
fi

# ---------------------------------------------------------------- 3. kernel specs
# PATH the kernels run with: our tools and Go first, then whatever PATH Jupyter was started with
# (jupyter_client >= 7 substitutes ${PATH} in a kernel spec's env).
kernel_path="$bin_dir:$go_bin_dir:\${PATH}"
data_dir="$(/usr/bin/jupyter --data-dir)"
kernels_dir="$data_dir/kernels"

# write_spec NAME DISPLAY_NAME GO_WORK OUTFILE: writes a kernel.json.
write_spec() {
  "$py" - "$gonb" "$1" "$2" "$3" "$kernel_path" >"$4" <<'EOF'
import json, sys
gonb, name, display, go_work, path = sys.argv[1:]
argv = [gonb, "--kernel", "{connection_file}"]
if go_work:
    argv.append("-go_work=" + go_work)
json.dump({
    "argv": argv,
    "display_name": display,
    "language": "go",
    "interrupt_mode": "message",
    "env": {"PATH": path},
    "metadata": {"belm": {"repo": go_work or None}},
}, sys.stdout, indent=2)
print()
EOF
}

# 3a. GoNB's own kernel "gonb" (generic: no go.work seed).
say "kernel gonb (Go (gonb))"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
write_spec gonb "Go (gonb)" "" "$tmp/gonb.json"
if [[ "$force" != 1 && -f "$kernels_dir/gonb/kernel.json" ]] && cmp -s "$tmp/gonb.json" "$kernels_dir/gonb/kernel.json"; then
  info "up to date: $kernels_dir/gonb"
else
  # --force_deps: gopls is optional (only for auto-complete/contextual help); goimports is checked below.
  # gonb writes kernel.json + logo into $JUPYTER_DATA_DIR (or ~/.local/share/jupyter)/kernels/gonb.
  # (It then warns that "goimports and/or gopls are not installed": that is about gopls; goimports is in $bin_dir.)
  if ! out="$(JUPYTER_DATA_DIR="$data_dir" PATH="$bin_dir:$PATH" "$gonb" --install --force_deps 2>&1)"; then
    printf '%s\n' "$out" | sed 's/^/    gonb: /' >&2
    die "gonb --install failed"
  fi
  # Add PATH to its env (gonb writes an empty env) so goimports is found at run time.
  cp "$tmp/gonb.json" "$kernels_dir/gonb/kernel.json"
  info "installed: $kernels_dir/gonb"
fi

# 3b. The project kernel "belm-go".
say "kernel belm-go (BELM (Go)), go.work seed = $repo"
mkdir -p "$tmp/belm-go"
write_spec belm-go "BELM (Go)" "$repo" "$tmp/belm-go/kernel.json"
if [[ -f "$kernels_dir/gonb/logo-svg.svg" ]]; then
  cp "$kernels_dir/gonb/logo-svg.svg" "$tmp/belm-go/logo-svg.svg"
fi
if [[ "$force" != 1 && -f "$kernels_dir/belm-go/kernel.json" ]] && cmp -s "$tmp/belm-go/kernel.json" "$kernels_dir/belm-go/kernel.json"; then
  info "up to date: $kernels_dir/belm-go"
else
  # --user works as root and as a normal user (no write access to /usr needed); it honours JUPYTER_DATA_DIR.
  # `jupyter kernelspec` is Debian's separate package jupyter-client; the module is in python3-jupyter-client
  # (a dependency of nbclient), so call it through Debian's python. An existing spec is always replaced.
  PYTHONWARNINGS=ignore::DeprecationWarning "$py" -m jupyter_client.kernelspecapp install --user --name belm-go "$tmp/belm-go" 2>&1 | sed 's/^/    /'
fi

# ---------------------------------------------------------------- 4. editor settings (Notebook 6)
# Jupyter Notebook 6 (Debian's jupyter-notebook 6.4.12, CodeMirror 5) draws a "——→" picture on every tab
# of Go code and scrolls long lines sideways. Its code cells take CodeMirror options from
# nbconfig/notebook.json {"CodeCell": {"cm_config": {...}}}, merged over CodeCell.options_default when a
# cell is created. The arrow is a background image that its style.min.css puts on
# `.cm-s-ipython span.cm-tab` (CodeMirror wraps each tab in that span; no option changes it), so
# custom/custom.css, which every Notebook 6 page loads after style.min.css, turns it off. Both live in
# the user's config dir, as `jupyter --config-dir` gives it ($JUPYTER_CONFIG_DIR, else ~/.jupyter, for
# root too). JupyterLab and Notebook 7 read neither.
say "editor settings for Go cells (Jupyter Notebook 6)"
config_dir="$(/usr/bin/jupyter --config-dir)"
if [[ "${BELM_EDITOR_CONFIG:-1}" == 0 ]]; then
  info "skipped (BELM_EDITOR_CONFIG=0)"
else
  "$py" - "$config_dir" "$force" <<'EOF' | sed 's/^/    /' || info "could not write the editor settings (see above); the kernels work without them"
import json, os, sys, tempfile

config_dir, force = sys.argv[1], sys.argv[2] == "1"
WANT = {"lineWrapping": True, "indentUnit": 4, "tabSize": 4, "indentWithTabs": True}
BEGIN = "/* belm-workbench editor settings (kernels/install-kernel.sh): begin */"
END = "/* belm-workbench editor settings: end */"
CSS = BEGIN + """
/* Go indents with tabs: no "——→" picture on each tab (Notebook 6's style.min.css draws one). */
.CodeMirror.cm-s-ipython span.cm-tab { background: none; }
""" + END


def write(path, text):
    """Writes text to path atomically: a temporary file in the same folder, then a rename."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# nbconfig/notebook.json: our four options, merged into what is there.
nb_json = os.path.join(config_dir, "nbconfig", "notebook.json")
data = {}
if os.path.exists(nb_json):
    try:
        with open(nb_json, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as e:
        print(f"{nb_json} is not JSON ({e}): left as it is")
        data = None
    if data is not None and not isinstance(data, dict):
        print(f"{nb_json} is not a JSON object: left as it is")
        data = None
if data is not None:
    cell = data.setdefault("CodeCell", {})
    cm = cell.setdefault("cm_config", {}) if isinstance(cell, dict) else None
    if not isinstance(cm, dict):
        print(f"{nb_json}: CodeCell.cm_config is not an object: left as it is")
    else:
        changed = []
        for k, v in WANT.items():
            if k not in cm or (force and cm[k] != v):
                cm[k] = v
                changed.append(k)
            elif cm[k] != v:
                print(f"kept your CodeCell cm_config {k} = {json.dumps(cm[k])} (ours: {json.dumps(v)}; FORCE=1 sets ours)")
        if changed:
            write(nb_json, json.dumps(data, indent=2, sort_keys=True) + "\n")
            print(f"set CodeCell cm_config {', '.join(changed)} in {nb_json}")
        else:
            print(f"up to date: {nb_json}")

# custom/custom.css: our block, between its markers, replaced in place or appended.
css = os.path.join(config_dir, "custom", "custom.css")
old = open(css, encoding="utf-8").read() if os.path.exists(css) else ""
b = old.find(BEGIN)
e = old.find(END, b) if b >= 0 else -1
if b >= 0 and e >= 0:
    new = old[:b] + CSS + old[e + len(END):]
else:
    new = old + ("\n" if old and not old.endswith("\n") else "") + CSS + "\n"
if new != old:
    write(css, new)
    print(f"wrote the tab style into {css}")
else:
    print(f"up to date: {css}")
EOF
fi

# ---------------------------------------------------------------- 5. the notebooks' git filter
# .gitattributes sends notebooks/*.ipynb through the `nbstrip` filter; a filter is per clone, so
# register it here: saving a notebook in Jupyter (outputs, execution counts, key order) then leaves
# `git status` clean, and `git add` commits only what was typed (kernels/nbstrip.py).
say "git filter nbstrip (notebooks are committed without outputs)"
if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$repo" config filter.nbstrip.clean "$py kernels/nbstrip.py"
  git -C "$repo" config filter.nbstrip.smudge cat
  info "registered in $repo/.git/config"
else
  info "not a git checkout: skipped"
fi

# ---------------------------------------------------------------- summary
say "Done"
info "jupyter:    /usr/bin/jupyter (nbconvert $(/usr/bin/jupyter nbconvert --version 2>/dev/null))"
info "gonb:       $gonb ($("$gonb" -V 2>/dev/null | head -1))"
info "goimports:  $bin_dir/goimports"
info "kernels:    $kernels_dir/gonb, $kernels_dir/belm-go"
[[ "${BELM_EDITOR_CONFIG:-1}" == 0 ]] || info "editor:     $config_dir/nbconfig/notebook.json, $config_dir/custom/custom.css"
"$py" -m jupyter_client.kernelspecapp list 2>/dev/null | sed 's/^/    /'
info "run notebooks headless: bash kernels/run-notebooks.sh OUTDIR [NOTEBOOK...]"
info "interactive:            make notebook (Jupyter on 127.0.0.1:8888, kernel \"BELM (Go)\"; README: remote use)"
