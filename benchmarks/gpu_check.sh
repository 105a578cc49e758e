#!/usr/bin/env bash
# The prepared GPU check: on a machine with CUDA, run the GPU-marked tests and the throughput
# benchmark (under 5 minutes) and write their output under $OUT (default benchmarks/out).
#   bash benchmarks/gpu_check.sh
# Uses the current python if it already has torch with CUDA and dabench importable; otherwise
# the project's .venv (scripts/venv.sh creates it; that needs the package registry).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/out}"
mkdir -p "$OUT"
if python3 -c "import torch, dabench, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    2>/dev/null; then
  PY=python3
else
  source scripts/venv.sh
  PY="$VENV/bin/python"
fi
"$PY" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible'; \
print('GPU:', torch.cuda.get_device_name(0), '| torch', torch.__version__)" | tee "$OUT/gpu.txt"
timeout 150 "$PY" -m pytest -q -m gpu tests/test_gpu.py -rs 2>&1 | tee -a "$OUT/gpu.txt"
timeout 200 "$PY" benchmarks/throughput.py --out "$OUT" 2>&1 | tee -a "$OUT/gpu.txt"
