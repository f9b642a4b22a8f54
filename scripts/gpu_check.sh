#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: the whole test suite on CuPy, the engine and
# LSTM benchmarks on the GPU (beside PyTorch's nn.LSTM, on cuDNN there), and the adding
# problem trained with --backend cupy.
#
#   scripts/gpu_check.sh OUT_DIR            # the real check (at most about 9 minutes)
#   scripts/gpu_check.sh OUT_DIR --quick    # every step, tiny sizes (tests/test_gpu_check.py)
#
# Installs nothing from the network: the pure-Python wheels the project needs and the
# machine may lack (graphviz) travel in .whl/ and are unpacked by scripts/offline_wheels.py
# where missing. CuPy, PyTorch and pytest must already be importable by $PYTHON.
# Without a usable GPU every step still runs, on NumPy, so that nothing in this script is
# first tried on the GPU machine; the log and results say so.
#
# Writes OUT_DIR/log.txt (everything), OUT_DIR/tests.txt (pytest's output) and
# OUT_DIR/results.md (the tables). Exit status: 0 all ran and the tests passed on the GPU;
# 1 a step failed; 3 all ran and passed, but no GPU was usable (a dry run on NumPy).
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR [--quick]}
quick=0
[ "${2:-}" = "--quick" ] && quick=1
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
log="$out/log.txt"
results="$out/results.md"
: >"$log"
: >"$results"
status=0

say() { echo "$*" | tee -a "$log"; }
# step NAME SECONDS COMMAND...: runs COMMAND with a time limit, its output into the log
# (and the results table when RESULTS=1); a failure is reported and counted, never fatal.
step() {
  local name=$1 limit=$2
  shift 2
  say "## $name"
  if [ "${RESULTS:-0}" = 1 ]; then
    timeout "$limit" "$@" 2>&1 | tee -a "$log" "$results"
  else
    timeout "$limit" "$@" 2>&1 | tee -a "$log"
  fi
  local rc=${PIPESTATUS[0]}
  if [ "$rc" != 0 ]; then
    [ "$rc" = 124 ] && say "step '$name' ran over its ${limit}s limit"
    say "step '$name' FAILED (exit status $rc)"
    status=1
  fi
}

# -- the project's missing pure-Python wheels, unpacked offline (after what is installed)
site=$(mktemp -d "${TMPDIR:-/tmp}/minigrad-wheels.XXXXXX")
if ls .whl/*.whl >/dev/null 2>&1; then
  $PYTHON scripts/offline_wheels.py .whl "$site" 2>&1 | tee -a "$log" || status=1
  export PYTHONPATH="$PYTHONPATH:$site"
fi

# -- what this machine is
say "# GPU check $(date -u +%FT%TZ)$([ $quick = 1 ] && echo ' (quick)')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 \
  | tee -a "$log" || say "nvidia-smi: not available"
say "nvcc: $(command -v nvcc || echo missing); dot: $(command -v dot || echo missing)"
$PYTHON - <<'EOF' 2>&1 | tee -a "$log"
import importlib, platform
print("Python", platform.python_version())
for name in ("numpy", "cupy", "torch", "jax", "pytest", "hypothesis", "graphviz", "scipy",
             "matplotlib", "tqdm", "threadpoolctl", "nbformat", "jupytext", "mkdocs",
             "playwright"):
    try:
        module = importlib.import_module(name)
        print(f"  {name} {getattr(module, '__version__', '?')}")
    except Exception as error:          # missing, or broken: say which
        print(f"  {name}: not importable ({type(error).__name__})")
EOF
gpu=$($PYTHON -c "
import minigrad as mg
try:
    mg.set_backend('cupy')
    print('yes')
except mg.BackendError as error:
    print('no:', error)" 2>&1 | tail -n 1)
if [ "$gpu" = yes ]; then
  backend=cupy
  say "GPU: the cupy backend works"
else
  backend=numpy
  say "NO GPU PRESENT: ${gpu#no: }"
  say "every step runs on NumPy instead, as a dry run of this script"
  echo "No GPU present (${gpu#no: }): a dry run on NumPy, nothing here is a GPU figure." \
    >>"$results"
fi

# -- the steps (tiny sizes with --quick); the limits add up to under 9 minutes, so that one
# call of a GPU machine (10 minutes at most) runs them all
if [ $quick = 1 ]; then
  tests=(tests/engine/test_backend.py)
  overhead=(--repeats 2 --length 20)
  configs=tiny repeats=1
  adding=(--seq-len 5 --steps 2 --eval-every 1 --hidden-size 4 --batch-size 4 --test-size 8)
  limit=120
else
  tests=(tests)
  overhead=(--repeats 10)
  configs=S,M,L,XL repeats=5
  [ $backend = numpy ] && configs=S
  adding=(--seq-len 100)
  limit=210
fi
# JAX joins the LSTM table only where it has a GPU (on a CPU, XL would take minutes)
skip=JAX
if [ $backend = cupy ] && $PYTHON -c "import jax, sys; sys.exit(jax.default_backend() != 'gpu')" \
    >/dev/null 2>&1; then
  skip=
fi

say "## tests under MINIGRAD_BACKEND=$backend"
MINIGRAD_BACKEND=$backend timeout $limit $PYTHON -m pytest -q -p no:cacheprovider \
  --maxfail=50 "${tests[@]}" >"$out/tests.txt" 2>&1
rc=$?
tail -n 40 "$out/tests.txt" | tee -a "$log"
[ $rc = 124 ] && say "tests ran over their ${limit}s limit"
[ $rc = 0 ] || { say "tests FAILED (exit status $rc)"; status=1; }

RESULTS=1 step "engine overhead ($backend)" 60 env MINIGRAD_BACKEND=$backend \
  $PYTHON -m benchmarks.engine_overhead "${overhead[@]}"
RESULTS=1 step "LSTM training step ($backend; nn.LSTM on cuDNN beside it on a GPU)" 150 \
  $PYTHON -m benchmarks.lstm_step --backend $backend --configs $configs --repeats $repeats \
  --skip "$skip"
if [ $backend = cupy ] && [ $quick = 0 ]; then
  RESULTS=1 step "LSTM training step without generated kernels (one launch per line)" 60 \
    env MINIGRAD_GENERATED_KERNELS=0 $PYTHON -m benchmarks.lstm_step --backend cupy \
    --configs M,L --repeats 3 --skip "JAX,LSTMCell loop" --no-header
fi
step "adding problem ($backend)" 90 $PYTHON -m models.train --task adding \
  --backend $backend --out "$out/adding" --overwrite --no-plots --quiet "${adding[@]}"

rm -rf "$site"
if [ $status != 0 ]; then
  say "gpu_check: FAILED (see above)"
  exit 1
fi
if [ $backend != cupy ]; then
  say "gpu_check: every step ran, on NumPy: NO GPU PRESENT"
  exit 3
fi
say "gpu_check: done on the GPU; tables in $results"
exit 0
