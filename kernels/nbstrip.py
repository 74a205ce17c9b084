#!/usr/bin/python3
"""nbstrip.py — the git clean filter of the notebooks: a notebook as it is committed.

    /usr/bin/python3 kernels/nbstrip.py < NOTEBOOK.ipynb > STRIPPED.ipynb
    /usr/bin/python3 kernels/nbstrip.py --check NOTEBOOK.ipynb...   # exit 1 naming any that differ

Drops what running and saving a notebook adds (code-cell outputs, execution counts, the per-cell
metadata Jupyter writes while you work: collapsed, scrolled, execution, jupyter, ExecuteTime) and
writes the JSON exactly as Jupyter's nbformat does (indent 1, sorted keys, UTF-8, final newline),
so a notebook saved in Jupyter and its committed copy differ only in what you typed. `make kernel`
registers it as the `nbstrip` filter of this clone (.gitattributes applies it to notebooks/*.ipynb);
`make test` checks that every committed notebook is already in this form. Standard library only.
"""
import json
import sys

CELL_KEYS_DROPPED = ("collapsed", "scrolled", "execution", "jupyter", "ExecuteTime")


def strip(nb):
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        meta = cell.get("metadata", {})
        for k in CELL_KEYS_DROPPED:
            meta.pop(k, None)
    return nb


def dumps(nb):
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def check(paths):
    bad = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            text = f.read()
        if dumps(strip(json.loads(text))) != text:
            bad.append(p)
    for p in bad:
        print(f"nbstrip: {p} has outputs or is not in committed form: run "
              f"`/usr/bin/python3 kernels/nbstrip.py < {p} > /tmp/nb && mv /tmp/nb {p}` "
              f"(or `make kernel` once, so git strips notebooks on add)", file=sys.stderr)
    return 1 if bad else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        return check(sys.argv[2:])
    sys.stdout.write(dumps(strip(json.load(sys.stdin))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
