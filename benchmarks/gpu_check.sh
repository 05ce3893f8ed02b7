#!/usr/bin/env bash
# GPU check on a machine with a CUDA GPU, in a few minutes: the CUDA-only
# tests, one TREC ir=50 SharpReCL fit in bf16 (fit time, macro-F1, peak GPU
# memory) and predict_proba throughput, written to
# benchmarks/results/gpu_check.json. Arguments go to benchmarks/gpu_check.py
# (--output, --data, --repeats, --dry-run for a CPU rehearsal).
#
#   PYTHON      the interpreter (default: .venv/bin/python, else python3); its
#               torch must see the GPU and the project's dependencies must be
#               importable (pip install -e ".[test]")
#   SHARPRECL_DATA  the folder holding trec/ (default: ../shared/datasets)
#   GPU_CHECK_TIMEOUT  seconds before the run is stopped (default 480); the
#               JSON is rewritten after each step, so a stopped run keeps what
#               it measured
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
if [ -z "${PYTHON:-}" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
# The checkout itself, whether or not it is installed.
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
exec timeout "${GPU_CHECK_TIMEOUT:-480}" "$PYTHON" -m benchmarks.gpu_check "$@"
