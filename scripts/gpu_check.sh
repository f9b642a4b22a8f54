#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: the whole test suite on CuPy, the engine and
# LSTM benchmarks on the GPU, and the adding problem trained with --backend cupy.
#
#   scripts/gpu_check.sh OUT_DIR
#
# Installs nothing from the network. CuPy and PyTorch must already be importable by
# $PYTHON (the GPU machine has them), or travel as wheels in .whl/ (installed offline).
# Writes OUT_DIR/log.txt and OUT_DIR/results.md; exits non-zero if the tests fail.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log="$out/log.txt"
: >"$log"

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PYTHON -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl >>"$log" 2>&1 \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

{
  echo "# GPU check $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null
  $PYTHON -c "import minigrad as mg; print('backends:', mg.backends_available())"
} 2>&1 | tee -a "$log"

status=0
echo "## tests under MINIGRAD_BACKEND=cupy" | tee -a "$log"
MINIGRAD_BACKEND=cupy timeout 300 $PYTHON -m pytest -q -x -p no:cacheprovider tests 2>&1 \
  | tee "$out/tests.txt" | tail -n 25 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1

echo "## benchmarks" | tee -a "$log"
MINIGRAD_BACKEND=cupy timeout 90 $PYTHON -m benchmarks.engine_overhead 2>&1 | tee -a "$log" "$out/results.md"
timeout 150 $PYTHON -m benchmarks.lstm_step --backend cupy --configs S,M,L,XL --repeats 5 2>&1 \
  | tee -a "$log" "$out/results.md"

echo "## adding problem on the GPU" | tee -a "$log"
timeout 120 $PYTHON -m models.train --task adding --seq-len 100 --backend cupy --out "$out/adding" \
  2>&1 | tail -n 15 | tee -a "$log"
exit $status
