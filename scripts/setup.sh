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
# The browser tests (tests/browser.py: the documentation site, the label-review page) drive the
# system's Chromium through Playwright; Playwright's own browser download is not used. Install
# Debian's chromium when it is missing and we may (root with apt-get); otherwise those tests skip
# with a one-line reason.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "setup.sh: could not install chromium; the browser tests will skip" >&2
fi
