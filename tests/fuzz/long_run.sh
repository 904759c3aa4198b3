#!/usr/bin/env bash
# A long fuzzing run of the report pipeline, the way docs/fuzzing.md's
# table was filled: both cores at nice 19 (builds and tests beside it keep
# their speed), libFuzzer's fork mode, the committed corpus plus any grown
# one, and a summary line at the end.
#
#   tests/fuzz/long_run.sh [SECONDS] [WORKDIR] [GROWN_CORPUS...]
#
# SECONDS: stop after this long (0: until Ctrl-C or SIGTERM). WORKDIR
# (default /tmp/pintrace-fuzz-long) gets corpus/, artifacts/, the binary it
# ran and log. Needs build-fuzz/ (./setup.sh fuzz 0 builds it). The last
# line is
#   fuzz long run: N executions in S s, cov C ft F, corpus K, findings: X (artifacts/...)
# and the exit status is 0 only when nothing was found.
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-0}
work=${2:-/tmp/pintrace-fuzz-long}
shift $(( $# > 2 ? 2 : $# ))
binary=$root/build-fuzz/tests/fuzz/report_fuzz
[ -x "$binary" ] || { echo "long_run: $binary is missing: build it first (./setup.sh fuzz 0)" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+$ ]] || { echo "long_run: SECONDS must be a whole number, not '$seconds'" >&2; exit 2; }

mkdir -p "$work/corpus" "$work/artifacts"
cp "$root"/tests/fuzz/corpus/* "$work/corpus/"
for grown in "$@"; do cp "$grown"/* "$work/corpus/" 2>/dev/null; done
# The binary is copied: a rebuild of build-fuzz/ during the run must not
# change what is being fuzzed, and the run's version is recorded.
cp "$binary" "$work/report_fuzz"
git -C "$root" rev-parse --short HEAD >"$work/commit" 2>/dev/null || echo unknown >"$work/commit"

# FUZZ_MAX_LEN: the largest input, in bytes (default 16384: whole VM
# traces; libFuzzer's own default is 4096, and inputs cost about their
# size). FUZZ_RUNS: stop after this many executions (fork mode counts
# them across its jobs). Both are recorded in WORKDIR/options.
max_len=${FUZZ_MAX_LEN:-16384}
[[ $max_len =~ ^[0-9]+$ ]] || { echo "long_run: FUZZ_MAX_LEN must be a whole number, not '$max_len'" >&2; exit 2; }
options=(-fork=2 -entropic=0 -timeout=30 -rss_limit_mb=2048 -max_len="$max_len"
         -dict="$root/tests/fuzz/trace.dict" -artifact_prefix="$work/artifacts/")
[ "$seconds" -gt 0 ] && options+=(-max_total_time="$seconds")
if [ -n "${FUZZ_RUNS:-}" ]; then
    [[ $FUZZ_RUNS =~ ^[0-9]+$ ]] || { echo "long_run: FUZZ_RUNS must be a whole number, not '$FUZZ_RUNS'" >&2; exit 2; }
    options+=(-runs="$FUZZ_RUNS")
fi

# ASan records the allocating stack of every malloc; at the default depth
# (30 frames) that unwinding is about a tenth of an execution here. Two
# frames keep leak and use-after-free reports pointing at the allocation
# site; a finding is replayed with the defaults for its whole stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=2}
echo "$ASAN_OPTIONS" >"$work/asan_options"
echo "${options[*]}" >"$work/options"

start=$(date +%s)
nice -n 19 "$work/report_fuzz" "${options[@]}" "$work/corpus" >"$work/log" 2>&1 &
pid=$!
# libFuzzer stops cleanly on SIGTERM (a background job of a script ignores SIGINT).
trap 'kill -TERM $pid 2>/dev/null' INT TERM
wait $pid
wait $pid 2>/dev/null
# Fork mode's parent can exit on a signal before its running jobs: stop
# them too (they are this run's binary), then its per-job directories.
pkill -TERM -f "^$work/report_fuzz " 2>/dev/null && sleep 2
pkill -KILL -f "^$work/report_fuzz " 2>/dev/null
rm -rf /tmp/libFuzzerTemp.FuzzWithFork"$pid".dir 2>/dev/null

elapsed=$(( $(date +%s) - start ))
last=$(grep -E '^#[0-9]+: cov:' "$work/log" | tail -1)
executions=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
cov=$(sed -E 's/.* cov: ([0-9]+) .*/\1/' <<<"$last")
ft=$(sed -E 's/.* ft: ([0-9]+) .*/\1/' <<<"$last")
corpus=$(ls "$work/corpus" | wc -l)
# crash-, leak-, oom-, timeout- files are findings; slow-unit- ones are
# inputs that took long under load, listed but not counted (replay them).
findings=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
slow=$(find "$work/artifacts" -type f -name 'slow-unit-*' | wc -l)
echo "fuzz long run: ${executions:-0} executions in $elapsed s, cov ${cov:-?} ft ${ft:-?}, corpus $corpus," \
     "findings: $findings ($work/artifacts; $slow slow units), binary of $(cat "$work/commit")"
[ "$findings" -eq 0 ]
