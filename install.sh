#!/usr/bin/env bash
# Create .venv beside this file and install transmodal into it, with torch pinned by constraints.txt.
#
#   bash install.sh            transmodal and torch
#   bash install.sh --dev      plus the test and export extras
#   bash install.sh --dry-run  print the choice and the pip commands, install nothing
#
# Which torch build: the CUDA build when `nvidia-smi` lists a GPU (the package index's default Linux
# wheel); otherwise the CPU build from PyTorch's CPU wheel index (no 5 GB of CUDA libraries) when
# that index is reachable, else the pinned wheel from the package index (the CPU build only where
# that index serves it). Override with TRANSMODAL_TORCH=cpu|cuda; TRANSMODAL_TORCH_INDEX_REACHABLE=1|0
# skips the reachability probe (tests run the choice offline that way).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
dev=0
dry=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --dry-run) dry=1 ;;
    *) echo "usage: bash install.sh [--dev] [--dry-run]" >&2; exit 2 ;;
  esac
done

pin=$(grep -E '^torch==' constraints.txt | head -n 1)
cpu_index=${TRANSMODAL_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
default_index=${PIP_INDEX_URL:-https://pypi.org/simple}

has_gpu() {
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '
}

cpu_index_reachable() {
  case "${TRANSMODAL_TORCH_INDEX_REACHABLE:-probe}" in
    1) return 0 ;;
    0) return 1 ;;
  esac
  "$python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=5)" \
    "$cpu_index" >/dev/null 2>&1
}

build=${TRANSMODAL_TORCH:-auto}
if [ "$build" = auto ]; then
  if has_gpu; then build=cuda; else build=cpu; fi
fi
pip=(.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt)
case "$build" in
  cuda)
    torch_install=("${pip[@]}" "$pin")
    why="a GPU is present: the CUDA build of $pin from the package index" ;;
  cpu)
    if cpu_index_reachable; then
      torch_install=("${pip[@]}" --index-url "$cpu_index" --extra-index-url "$default_index" "$pin")
      fallback=("${pip[@]}" "$pin")
      why="no GPU: the CPU build of $pin from PyTorch's CPU wheel index (else from the package index)"
    else
      torch_install=("${pip[@]}" "$pin")
      why="no GPU, PyTorch's CPU wheel index ($cpu_index) is not reachable: $pin from the package index"
    fi ;;
  *) echo "TRANSMODAL_TORCH must be cpu or cuda (or unset), got '$build'" >&2; exit 2 ;;
esac
extras=""
[ "$dev" = 1 ] && extras="[dev]"
package_install=("${pip[@]}" -e ".${extras}")

echo "torch: $why" >&2
if [ "$dry" = 1 ]; then
  echo "${torch_install[*]}"
  echo "${package_install[*]}"
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
if ! "${torch_install[@]}"; then
  [ -n "${fallback+set}" ] || exit 1
  echo "torch: the CPU wheel index failed; installing $pin from the package index" >&2
  "${fallback[@]}"
fi
"${package_install[@]}"
