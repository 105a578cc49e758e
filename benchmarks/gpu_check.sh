#!/usr/bin/env bash
# The prepared GPU check, one command on a machine with CUDA (under 5 minutes):
#   bash benchmarks/gpu_check.sh            # output under $OUT, else benchmarks/out
#   OUT=/some/dir bash benchmarks/gpu_check.sh
# 1. the GPU-marked tests (pytest -m gpu over the test files that have such tests), then
# 2. benchmarks/throughput.py (ResNet-50 at 224 px, 32 + 32 on CUDA), writing throughput.json.
# Writes $OUT/gpu_check.log (everything), $OUT/gpu_tests.xml (JUnit) and $OUT/throughput.json.
# Exit status: 0 when both passed, else the first failure's.
#
# Which python: ./.venv (or $DABENCH_VENV) if it has torch with CUDA; else the system python3
# if it has torch with CUDA (dabench is then imported from this checkout via PYTHONPATH: no
# install, no network needed); else scripts/venv.sh creates the venv and installs dabench into
# it (that needs the package registry). Set GPU_CHECK_ALLOW_CPU=1 to run without CUDA anyway.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
OUT="${OUT:-$REPO/benchmarks/out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gpu_check.log"
: > "$LOG"
say() { echo "[gpu_check] $*" | tee -a "$LOG"; }
has_cuda_torch() {  # python can import torch and sees a GPU (or CPU runs are allowed)
  [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
  "$1" -c "import sys, torch, yaml, PIL, numpy, torchvision
sys.exit(0 if torch.cuda.is_available() or '${GPU_CHECK_ALLOW_CPU:-0}' == '1' else 1)" \
    >/dev/null 2>&1
}

VENV="${DABENCH_VENV:-.venv}"
if has_cuda_torch "$VENV/bin/python"; then
  PY="$VENV/bin/python"
elif has_cuda_torch python3; then
  PY=python3
  export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"  # dabench from this checkout
else
  say "no python with torch + CUDA found; creating $VENV with scripts/venv.sh (needs network)"
  # shellcheck source=../scripts/venv.sh
  ( source scripts/venv.sh ) 2>&1 | tee -a "$LOG"
  PY="$VENV/bin/python"
  if ! has_cuda_torch "$PY"; then
    say "FAILED: $PY has no torch that sees a CUDA GPU (nvidia-smi below); nothing was run"
    command -v nvidia-smi >/dev/null && nvidia-smi 2>&1 | tee -a "$LOG"
    exit 2
  fi
fi
say "python: $PY"
"$PY" - <<'EOF' 2>&1 | tee -a "$LOG"
import platform, torch
print("[gpu_check] torch", torch.__version__, "| CUDA", torch.version.cuda, "| python",
      platform.python_version())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"[gpu_check] GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, "
          f"bf16 {torch.cuda.is_bf16_supported()}")
else:
    print("[gpu_check] WARNING: no CUDA GPU; GPU tests will skip and the benchmark runs CPU sizes")
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.used,memory.total,utilization.gpu --format=csv 2>&1 | tee -a "$LOG"

status=0
start=$SECONDS
# 1. GPU-marked tests, in the files that have them (so an optional dependency missing from a
#    system python, e.g. the video decoders, cannot break the collection of this check).
mapfile -t files < <(grep -l "pytest.mark.gpu" tests/test_*.py)
if ! "$PY" -c "import pytest" >/dev/null 2>&1; then
  say "pytest missing for $PY; trying: $PY -m pip install pytest"
  "$PY" -m pip install --quiet pytest >>"$LOG" 2>&1 || say "could not install pytest"
fi
if "$PY" -c "import pytest" >/dev/null 2>&1; then
  say "pytest -m gpu ${files[*]}"
  timeout 110 "$PY" -m pytest -q -m gpu -rs -p no:cacheprovider \
    --junitxml="$OUT/gpu_tests.xml" "${files[@]}" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  [ "$rc" -eq 124 ] && say "FAILED: the GPU tests ran past 110 s"
  [ "$rc" -ne 0 ] && { say "GPU tests: exit status $rc"; status=$rc; }
else
  say "FAILED: no pytest; GPU tests not run"
  status=3
fi
say "tests took $((SECONDS - start)) s"

# 2. the throughput benchmark (JSON to $OUT/throughput.json)
start=$SECONDS
say "benchmarks/throughput.py --out $OUT"
timeout 170 "$PY" benchmarks/throughput.py --out "$OUT" 2>&1 | tee -a "$LOG"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 124 ] && say "FAILED: the benchmark ran past 170 s"
[ "$rc" -ne 0 ] && { say "benchmark: exit status $rc"; [ "$status" -eq 0 ] && status=$rc; }
say "benchmark took $((SECONDS - start)) s; output in $OUT (gpu_check.log, gpu_tests.xml, throughput.json)"
[ "$status" -eq 0 ] && say "PASSED" || say "FAILED (exit status $status)"
exit "$status"
