#!/usr/bin/env bash
# Create .venv beside this file and install transmodal into it, with torch pinned to the CPU build
# (constraints.txt). `bash install.sh --dev` adds the test and export extras.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt torch==2.13.0
extras=""
[ "${1:-}" = "--dev" ] && extras="[dev]"
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -e ".${extras}"
