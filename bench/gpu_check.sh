#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU (H100 here): build, GPU tests, compute-sanitizer on
# a small subset, then the GPU benchmarks; about 6 minutes at most, a short table printed last.
#
#   bash bench/gpu_check.sh                 every family (logs and JSON under $OUT, or /tmp/fastnn-gpu-check)
#   bash bench/gpu_check.sh rnn segment     only these kernel families' GPU tests, sanitizer cases and
#                                           benchmarks (the build and the convention checks always run):
#                                           gemm conv pool interp optim random segment rnn word2vec attention
#                                           norm graph diffusion
#
# Needs: Python with numpy, cupy, pytest, pybind11, scikit-build-core, cmake, ninja and nvcc;
# torch (with CUDA) is optional: it adds the cuDNN/cuBLAS-TF32 references. No package registry
# is used: the build is `pip install --no-build-isolation --no-deps .`.
set -uo pipefail
cd "$(dirname "$0")/.."
# Family -> the tests of tests/test_cuda_kernels.py that check it (a pytest -k expression), the test
# files of its own, and the bench/run.py families that time it.
declare -A KEYS=([gemm]="gemm or matmul or tf32" [conv]="conv" [pool]="pool" [interp]="upsample"
                 [optim]="fused" [random]="philox or dropout or random" [segment]="segment or embedding"
                 [rnn]="rnn" [word2vec]="word2vec" [attention]="attention" [norm]="norm" [graph]="segment_cuda"
                 [diffusion]="diffus")
declare -A FILES=([rnn]="tests/test_rnn_cuda.py" [attention]="tests/test_attention_cuda.py"
                  [norm]="tests/test_norm_cuda.py" [graph]="tests/test_segment_cuda.py"
                  [diffusion]="tests/test_diffusion_cuda.py")
declare -A BENCH=([gemm]="cuda" [conv]="cuda" [pool]="cuda" [interp]="cuda" [segment]="embedding" [rnn]="rnn"
                  [word2vec]="word2vec" [attention]="attention" [norm]="norm" [graph]="spmm_cuda"
                  [diffusion]="diffusion")
# The families whose test files the sanitizers run beside tests/test_cuda_kernels.py.
SAN_FILES="tests/test_attention_cuda.py tests/test_norm_cuda.py tests/test_segment_cuda.py tests/test_diffusion_cuda.py"
FAMILIES=("$@")
for f in "${FAMILIES[@]}"; do
  if [ -z "${KEYS[$f]+x}" ]; then
    echo "gpu_check: unknown family '$f'; choose among: ${!KEYS[*]}" >&2
    exit 2
  fi
done
K_EXPR="" EXTRA_FILES="" BENCH_ONLY=""
for f in "${FAMILIES[@]}"; do
  K_EXPR="${K_EXPR:+$K_EXPR or }${KEYS[$f]}"
  [ -n "${FILES[$f]+x}" ] && EXTRA_FILES="$EXTRA_FILES ${FILES[$f]}"
  [ -n "${BENCH[$f]+x}" ] && case ",$BENCH_ONLY," in *",${BENCH[$f]},"*) ;; *) BENCH_ONLY="${BENCH_ONLY:+$BENCH_ONLY,}${BENCH[$f]}" ;; esac
done
LOG=${OUT:-/tmp/fastnn-gpu-check}
mkdir -p "$LOG"
export PYTHONUNBUFFERED=1
START=$SECONDS
BUDGET=${GPU_CHECK_BUDGET:-345}
declare -a SUMMARY

left() { echo $((BUDGET - (SECONDS - START))); }

# step NAME LIMIT LOGFILE CMD...: runs CMD with at most LIMIT seconds (less if the budget is short).
step() {
  local name=$1 limit=$2 log=$3
  shift 3
  local l
  l=$(left)
  if [ "$l" -lt 15 ]; then
    SUMMARY+=("$(printf '%-22s %-8s %5s s' "$name" skipped 0)")
    return 0
  fi
  [ "$limit" -gt "$l" ] && limit=$l
  local t0=$SECONDS rc
  timeout "$limit" "$@" >>"$log" 2>&1
  rc=$?
  local status=ok
  [ $rc -ne 0 ] && status="rc=$rc"
  [ $rc -eq 124 ] && status=timeout
  SUMMARY+=("$(printf '%-22s %-8s %5s s' "$name" "$status" $((SECONDS - t0)))")
  return $rc
}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  nvcc --version | tail -1
  python3 -c "import sys, cupy; print('python', sys.version.split()[0], 'cupy', cupy.__version__)"
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>/dev/null || echo "torch: none"
  date -u +"%Y-%m-%d %H:%M UTC"
} >"$LOG/card.txt" 2>&1
cat "$LOG/card.txt"

# 1. Build for the card's own architecture only (one pass of nvcc per kernel file).
CC=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
export FASTNN_CUDA=on FASTNN_CUDA_ARCHS=${FASTNN_CUDA_ARCHS:-${CC:-90}} CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
if ! step build 200 "$LOG/build.log" python3 -m pip install --no-build-isolation --no-deps -v .; then
  tail -40 "$LOG/build.log"
  printf '%s\n' "${SUMMARY[@]}"
  exit 1
fi
grep -E "registers|spill" "$LOG/build.log" | grep -v " 0 bytes spill stores, 0 bytes spill loads" | tail -5 || true
# Run from outside the checkout so the installed package (not python/) is imported.
REPO=$(pwd)
cd /tmp
python3 -c "import fastnn, fastnn.cuda as c; print('fastnn', fastnn.__version__, 'cuda available:', c.is_available(), c.get_device_name() if c.is_available() else '')"
# instruction mix of the GEMM kernels as built (HMMA/FFMA, 16-byte loads, no local memory)
if command -v cuobjdump >/dev/null; then
  python3 "$REPO/tools/sass_report.py" "$(python3 -c 'import fastnn._C_cuda as m; print(m.__file__)')" \
    --arch "sm_${FASTNN_CUDA_ARCHS%%[;,]*}" >"$LOG/sass.txt" 2>&1
  tail -1 "$LOG/sass.txt"
fi

# 2. GPU tests: the kernel tests, the calling convention of both modules, the build checks (which
#    must also pass with a GPU present), then the gpu-marked tests of the other areas (their modules
#    may need packages this machine lacks, so collection errors there do not stop the rest).
if [ ${#FAMILIES[@]} -gt 0 ]; then
  step "pytest cuda convention" 60 "$LOG/tests.log" python3 -m pytest -q -p no:cacheprovider \
    "$REPO/tests/test_native_convention.py" "$REPO/tests/test_cuda_build.py"
  # (-k also matches a test file's name: "rnn" selects all of test_rnn_cuda.py)
  step "pytest cuda ${FAMILIES[*]}" 120 "$LOG/tests.log" python3 -m pytest -q -p no:cacheprovider \
    "$REPO/tests/test_cuda_kernels.py" $(for t in $EXTRA_FILES; do echo "$REPO/$t"; done) -k "$K_EXPR"
else
  step "pytest cuda kernels" 120 "$LOG/tests.log" python3 -m pytest -q -p no:cacheprovider \
    "$REPO/tests/test_cuda_kernels.py" "$REPO/tests/test_rnn_cuda.py" "$REPO/tests/test_attention_cuda.py" \
    "$REPO/tests/test_norm_cuda.py" "$REPO/tests/test_segment_cuda.py" "$REPO/tests/test_diffusion_cuda.py" \
    "$REPO/tests/test_native_convention.py" "$REPO/tests/test_cuda_build.py"
fi
tail -3 "$LOG/tests.log"
#    Order: end-to-end device rules and training first, then every layer, then the whole op
#    registry (cupy compiles each new element-wise kernel on first use, so a cold run is slower).
if [ ${#FAMILIES[@]} -eq 0 ] && [ "$(left)" -gt 200 ]; then
  step "pytest -m gpu (others)" 150 "$LOG/tests.log" python3 -m pytest -q -m gpu -p no:cacheprovider -rf \
    --continue-on-collection-errors --ignore="$REPO/tests/test_cuda_kernels.py" \
    "$REPO/tests/test_devices.py" "$REPO/tests/test_layers_on_device.py" "$REPO/tests/test_ops.py" "$REPO/tests"
  tail -3 "$LOG/tests.log"
fi

# 3. compute-sanitizer: out-of-bounds accesses (memcheck) and shared-memory races (racecheck) on a
#    few small cases of every kernel family.
SAN=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
SUBSET="test_gemm_layouts and f32 or test_gemm_matches_cpu and f64 and 2-17 or conv2d_forward_and_grads and f32 and (cc2 or cc3) or max_pool2d_matches_cpu and f32 or avg_pool2d_matches_cpu and f32 and pc1 or adaptive_pools and f32 or upsample and f32 and shape0 or segment_kernels_match_cpu and f32 or word2vec_matches_cpu and float32 or test_attention_matches_cpu and f32 and 2x4x2x37x45x5x7 or test_half_precision_close_to_float32 and float16 or test_dropout_mask_same_bits_as_cpu and f32 or test_norm_kernels_match_cpu_reference and f32 or test_segment_reduce_matches_cpu and f32 and i64 and 300x2000 or test_weighted_reduce_with_weight_index and f32 or test_csr_from_index_matches_cpu and i64 or test_segment_dot_matches_cpu and f32 or test_segment_softmax_matches_cpu and f32 or test_deterministic_mode_is_bitwise_repeatable or test_diffuse_same_bits_as_cpu and f16 and shape1 or test_sampling_step_same_bits_as_cpu and f32 and shape4"
[ ${#FAMILIES[@]} -gt 0 ] && SUBSET="($SUBSET) and ($K_EXPR)"
# The benchmark keeps about 100 s in reserve: the sanitizers run only in what is left beyond it.
if [ -x "$SAN" ] && [ "$(left)" -gt 160 ]; then
  step memcheck 60 "$LOG/sanitizer.log" "$SAN" --tool memcheck --error-exitcode 9 --target-processes all \
    python3 -m pytest -q -x -p no:cacheprovider "$REPO/tests/test_cuda_kernels.py" $(for t in $SAN_FILES; do echo "$REPO/$t"; done) \
    -k "$SUBSET"
  [ "$(left)" -gt 145 ] && step racecheck 45 "$LOG/sanitizer.log" "$SAN" --tool racecheck --error-exitcode 9 --target-processes all \
    python3 -m pytest -q -x -p no:cacheprovider "$REPO/tests/test_cuda_kernels.py" $(for t in $SAN_FILES; do echo "$REPO/$t"; done) \
    -k "test_gemm_layouts and f32 and nn or test_gemm_tf32 and 100 or conv2d_forward_and_grads and f32 and cc2 or test_half_precision_close_to_float32 and float16 and (32-32-70 or 128-128) or test_segment_reduce_matches_cpu and f32 and i64 and 300x2000 or test_csr_from_index_matches_cpu and i32 and 5000-70000"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|failed" "$LOG/sanitizer.log" | tail -6
elif [ ! -x "$SAN" ]; then
  SUMMARY+=("$(printf '%-22s %-8s %5s s' compute-sanitizer missing 0)")
else
  SUMMARY+=("$(printf '%-22s %-8s %5s s' compute-sanitizer "no time" 0)")
fi

# 4. Benchmarks: the kernel table (fastnn vs cuBLAS / cuDNN), then the training-step table.
cd "$REPO"
if [ ${#FAMILIES[@]} -gt 0 ]; then
  [ -n "$BENCH_ONLY" ] && step "bench $BENCH_ONLY" 100 "$LOG/bench_cuda.txt" python3 bench/run.py --device cuda --quick \
    --only "$BENCH_ONLY" --json "$LOG/bench_cuda.json"
else
  step "bench cuda" 100 "$LOG/bench_cuda.txt" python3 bench/run.py --device cuda --quick --only cuda --json "$LOG/bench_cuda.json"
  [ "$(left)" -gt 30 ] && step "bench train (cuda)" 40 "$LOG/bench_train.txt" python3 bench/run.py --device cuda --quick --only train
fi

{
  echo "== gpu_check: $(head -1 "$LOG/card.txt"), $((SECONDS - START)) s"
  printf '%s\n' "${SUMMARY[@]}"
  echo
  grep -E "^\|" "$LOG/bench_cuda.txt" || tail -5 "$LOG/bench_cuda.txt"
} | tee "$LOG/summary.txt"
