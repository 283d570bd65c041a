#!/usr/bin/env bash
# The main job: install (first time only), then run the demo on the data that ships with the package.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
exec .venv/bin/selfdistill demo --out "${1:-runs/demo}"
