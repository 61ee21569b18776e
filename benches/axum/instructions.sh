#!/usr/bin/env bash
# Instructions per request of the overhead example's two routes (issue 17),
# counted by valgrind's callgrind in the server (every thread): the server is
# warmed up (first requests, lazy statics, the masker's tables), its counters
# zeroed, then N keep-alive requests to `/plain` are counted, the counters
# zeroed again, and N to `/guarded`. curl sends them (one connection,
# sequential), outside valgrind. Instruction counts do not move with the
# machine's load; they do not see time spent in the kernel.
#
#   bash benches/axum/instructions.sh [N, default 2000]
set -euo pipefail
n="${1:-2000}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
# BIN: another build of the example (an older commit's, to compare).
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p palisade-axum --example overhead
fi
bin="${BIN:-${CARGO_TARGET_DIR:-$root/target}/release/examples/overhead}"
port="${PORT:-18182}"
out="$(mktemp -d)"
valgrind --tool=callgrind --callgrind-out-file="$out/cg.%p" "$bin" "127.0.0.1:$port" \
    > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 120); do
    grep -q listening "$out/server.log" && break
    sleep 0.5
done
send() { # route, count
    curl -s -o /dev/null -H 'x-user: otto' "http://127.0.0.1:$port/$1?[1-$2]"
}
counted() { # route: instructions of N requests
    callgrind_control -z "$server" > /dev/null 2>&1
    send "$1" "$n"
    callgrind_control -d "$1" "$server" > /dev/null 2>&1
    sleep 1
    f="$(ls -t "$out"/cg."$server".* | head -1)"
    awk '/^(summary|totals):/ {print $2; exit}' "$f"
}
send plain 100
send guarded 100
plain="$(counted plain)"
guarded="$(counted guarded)"
echo "plain:   $((plain / n)) instructions/request"
echo "guarded: $((guarded / n)) instructions/request"
echo "ratio guarded/plain: $(echo "$guarded / $plain" | bc -l | cut -c1-5)"
