#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, IOTHUB_FUZZ=ON) in their own build
# directory and runs each for FUZZ_SECONDS, starting from a scratch copy of its checked-in
# corpus (tests/fuzz/corpus/<target>), so the repository is never written to.
# Exits non-zero if any target finds a crash, leak, timeout or broken property; the
# input is kept in $FUZZ_BUILD_DIR/findings/<target>/ for replaying:
#   build-fuzz/<target> build-fuzz/findings/<target>/crash-...
#   scripts/fuzz.sh [target...]       all targets when none are named
# Environment: FUZZ_SECONDS (60), FUZZ_BUILD_DIR (build-fuzz), JOBS (nproc).
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -DIOTHUB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_targets -j "$jobs"

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for source in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi

failed=()
printf '\n%-24s %12s %10s %8s %8s  %s\n' target executions exec/s cov ft result
for t in "${targets[@]}"; do
  work="$build/fuzz-work/$t"
  findings="$build/findings/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$findings"
  if [[ -d "tests/fuzz/corpus/$t" ]]; then cp -r "tests/fuzz/corpus/$t/." "$work/corpus/"; fi
  dict=()
  [[ -f "tests/fuzz/$t.dict" ]] && dict=("-dict=tests/fuzz/$t.dict")
  result=ok
  # -timeout: one input over 10 s is a finding; -rss_limit_mb: so is using over 2 GB.
  if ! "$build/$t" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$findings/" >"$work/log" 2>&1; then
    result="FAILED (see $work/log, input in $findings/)"
    failed+=("$t")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-24s %12s %10s %8s %8s  %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "$result"
  if [[ $result != ok ]]; then grep -E 'ERROR|property violated|what\(\)|SUMMARY' "$work/log" | head -5 | sed 's/^/    /'; fi
done

echo "fuzz: ${seconds} s each; findings in: ${failed[*]:-none}"
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
