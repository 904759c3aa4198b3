#!/bin/sh
# What `record` costs a workload that pins nothing: page_churn alone and
# under `pintrace record`, alternating, ROUNDS times each; the workload
# times itself, so record's start-up is not counted. With
# kernel.bpf_stats_enabled=1, record also prints each program's runs and
# mean time. Needs root. docs/performance.md, "Frees: the tax on every workload".
#   tests/bench/churn_overhead.sh [BUILD_DIR] [ROUNDS] [CHURN_ROUNDS] [MIB]
set -eu
build=${1:-build}
rounds=${2:-6}
churn="$build/page_churn ${3:-20} ${4:-256}"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
alone="" recorded="" ratios=""
for i in $(seq "$rounds"); do
	a=$($churn | sed -n 's/^seconds=\([0-9.]*\).*/\1/p')
	"$build/pintrace" record -o "$out/churn.trace" -- $churn >"$out/record.out" 2>"$out/record.err"
	r=$(sed -n 's/^seconds=\([0-9.]*\).*/\1/p' "$out/record.out")
	echo "round $i: alone ${a}s, recorded ${r}s"
	alone="$alone $a" recorded="$recorded $r"
	ratios="$ratios $(awk -v a="$a" -v r="$r" 'BEGIN {print r / a}')"
done
grep -E "BPF cost|ns/run|capture=" "$out/record.err" || true
median() { echo "$@" | tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ma=$(median $alone) mr=$(median $recorded)
echo "median alone ${ma}s, recorded ${mr}s"
# The round's own ratio cancels the machine's drift between rounds.
awk -v q="$(median $ratios)" 'BEGIN {printf "churn_slowdown_pct=%.1f (median of the rounds recorded/alone)\n", (q - 1) * 100}'
