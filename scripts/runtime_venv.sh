#!/usr/bin/env bash
# A fresh virtual environment holding the Space's runtime requirements alone (issue #30): what
# scripts/deploy_space.py writes into the Space's requirements.txt (requirements.txt and its dependencies, each at
# its locked version), nothing from requirements-dev.txt. CI (.ci/run) then starts app.py from the Space's folder
# with it: tests/test_deploy_space.py's start-up test with SPACE_PYTHON=<venv>/bin/python.
# One difference from the Space, said plainly: the Space installs torch and torchvision as PyTorch's CPU builds
# (+cpu, from download.pytorch.org), which CI cannot reach; here they are the same versions from PyPI, with the
# CUDA libraries the PyPI build loads at import (pinned from requirements.lock). The Python code is the same.
# Usage: scripts/runtime_venv.sh [VENV_DIR]   (default /tmp/space-venv; PY: the interpreter that assembles the
# Space folder, default .venv/bin/python; BASE_PYTHON: the one the venv is made from, default python3)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-/tmp/space-venv}
PY=${PY:-.venv/bin/python}
BASE_PYTHON=${BASE_PYTHON:-python3}
rm -rf "$VENV" "$VENV.space"
$PY scripts/deploy_space.py --dry-run --out "$VENV.space" > /dev/null
sed -e '/^--extra-index-url/d' -e 's/+cpu$//' "$VENV.space/requirements.txt" > "$VENV.requirements.txt"
grep -E '^(nvidia-[a-z0-9-]+|triton)==' requirements.lock >> "$VENV.requirements.txt"
"$BASE_PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -r "$VENV.requirements.txt"
(cd / && "$VENV/bin/python" -c "import torch, gradio, torch_fidelity; print(torch.__version__, gradio.__version__)")
echo "$VENV: the Space's runtime requirements installed ($VENV.requirements.txt)"
