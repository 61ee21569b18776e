#!/usr/bin/env bash
# The guard's cost (issue 17): the same handler with and without
# palisade-axum, loaded by wrk (a separate process on loopback) in one run,
# alternating, ROUNDS times each. Prints requests/s and p99 per round and the
# ratio guarded / plain of the medians, and the median of the rounds' ratios.
# Needs wrk (Debian: apt install wrk).
#
#   bash benches/axum/overhead.sh            # CONNS=64 SECS=10 ROUNDS=3
#
# On a shared virtual machine whose speed changes from one minute to the
# next, many short rounds (ROUNDS=15 SECS=4) give a steadier median of the
# rounds' ratios than a few long ones.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# BIN: another build of the example (an older commit's, to compare).
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p palisade-axum --example overhead
fi
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/examples/overhead}"
port="${PORT:-18181}"
"$bin" "127.0.0.1:$port" > /dev/null &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 1
conns="${CONNS:-64}"; secs="${SECS:-10}"; rounds="${ROUNDS:-3}"
plain=(); guarded=(); ratios=()
for r in $(seq 1 "$rounds"); do
  # Which route goes first alternates, so that a machine speeding up or
  # slowing down during a round favours neither.
  order="plain guarded"; [ $((r % 2)) -eq 0 ] && order="guarded plain"
  for route in $order; do
    out="$(wrk -t2 -c"$conns" -d"${secs}s" --latency -H 'x-user: otto' "http://127.0.0.1:$port/$route")"
    rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
    p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
    echo "round $r $route: $rps req/s, p99 $p99 (load $(cut -d' ' -f1 /proc/loadavg))"
    if [ "$route" = plain ]; then plain+=("$rps"); else guarded+=("$rps"); fi
  done
  ratios+=("$(echo "${guarded[-1]} / ${plain[-1]}" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mp="$(median "${plain[@]}")"; mg="$(median "${guarded[@]}")"
echo "median plain $mp req/s, guarded $mg req/s, ratio $(echo "$mg / $mp" | bc -l | cut -c1-5)"
# On a shared machine the speed drifts between rounds: the ratio of each
# round's pair (plain then guarded) drifts less.
echo "median of the rounds' ratios $(median "${ratios[@]}" | cut -c1-5)"
