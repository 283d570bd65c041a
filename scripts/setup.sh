#!/usr/bin/env bash
# Creates .venv (once) and installs selfdistill with every extra. Sourced by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# torch==2.13.0 comes from the pinned `torch` extra (a CPU build is served to pip here); `all`
# adds every optional integration (Ray, ...), so the test suite covers them.
stamp=.venv/.selfdistill-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[all,dev]"
    touch "$stamp"
fi
