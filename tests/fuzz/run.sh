#!/usr/bin/env bash
# Runs the request-path fuzz target for SECONDS over a temporary copy of the seed corpus (new
# inputs are not written into the repository). Builds nothing: build-fuzz must hold it, see
# README.md. Exits non-zero on any crash, leak, timeout or sanitizer report, keeping the
# reproducers and the log in a temp dir it names; prints the executions count either way.
#   tests/fuzz/run.sh SECONDS [libFuzzer flags...]     e.g. tests/fuzz/run.sh 60
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:?usage: tests/fuzz/run.sh SECONDS [libFuzzer flags...]}
shift
bin=${FUZZ_BIN:-$root/build-fuzz/bin/request_fuzz}

if [ ! -x "$bin" ]; then
  echo "run.sh: $bin missing; build it with:" >&2
  echo "  CC=clang CXX=clang++ cmake -S $root -B $root/build-fuzz -DFUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" >&2
  echo "  cmake --build $root/build-fuzz -j2 --target request_fuzz" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/request-fuzz.XXXXXX")
keep=0
trap '[ "$keep" -eq 1 ] || rm -rf "$work"' EXIT
cp -r "$here/corpus" "$work/corpus"
mkdir "$work/artifacts"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# -max_total_time bounds the run; the outer timeout only catches a hang of libFuzzer itself.
status=0
timeout --kill-after=10 $((seconds + 120)) "$bin" \
  -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -dict="$here/http.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
  "$@" "$work/corpus" >"$work/fuzz.log" 2>&1 || status=$?

# The last status line ("#N ... cov: C ft: F ...") holds the totals in both plain and fork mode.
last=$(grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1 || true)
execs=$( (grep -oE '^stat::number_of_executed_units: [0-9]+' "$work/fuzz.log" | grep -oE '[0-9]+$'
          sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last") | sort -n | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || true)
corpus=$(find "$work/corpus" -type f | wc -l)
artifacts=$(find "$work/artifacts" -type f | wc -l)
echo "request_fuzz: ${seconds}s, executions: ${execs:-0}, coverage: ${cov:-?} edges, ${ft:-?} features," \
     "corpus: $corpus inputs, exit: $status, reproducers: $artifacts"

if [ "$status" -ne 0 ] || [ "$artifacts" -ne 0 ]; then
  keep=1
  grep -E 'invariant broken|known finding|ERROR: |SUMMARY: |runtime error' "$work/fuzz.log" |
    sed -E 's/==[0-9]+==/==/' | sort | uniq -c | head -n 40 >&2 || true
  echo "request_fuzz: FAILED; log $work/fuzz.log, reproducers in $work/artifacts/" >&2
  echo "  (replay one: $bin FILE)" >&2
  exit 1
fi
