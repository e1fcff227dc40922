#!/usr/bin/env bash
# The main job. Installs the SDK into ./.venv and runs it. Until the chat quickstart lands this
# runs the codec benchmark (decoding 100,000-row server messages) and prints its JSON report.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/python benchmarks/bench_codec.py "$@"
