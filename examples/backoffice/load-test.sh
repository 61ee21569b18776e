#!/usr/bin/env bash
# The back office's load test: the server (SQLite, durable audit log, demo
# tenant) and the load generator as two processes on loopback; the generator
# signs in as the demo operator and reads the masked client list for a
# bounded count and time, then prints reads/s and p50/p99 latency.
#
#   cargo build --release -p palisade-backoffice
#   bash examples/backoffice/load-test.sh            # THREADS=8 REQ=30000 SECS=20
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
work="$(mktemp -d /tmp/backoffice-load.XXXXXX)"
port="${PORT:-18080}"
"$bin/palisade-backoffice" serve --dev --data "$work/data" --listen "127.0.0.1:$port" --demo acme \
    --log-level warn > "$work/out.txt" 2> "$work/err.txt" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 150); do grep -q "Ctrl-C" "$work/out.txt" 2>/dev/null && break; sleep 0.2; done
line="$(grep "otto@acme.example" "$work/out.txt")"
password="$(echo "$line" | awk '{print $4}')"
secret="$(echo "$line" | awk '{print $7}')"
printf '%s\n%s\n' "$password" "$secret" |
    "$bin/backoffice-load" --url "http://127.0.0.1:$port" --tenant acme --email otto@acme.example \
        --threads "${THREADS:-8}" --requests "${REQ:-30000}" --seconds "${SECS:-20}"
echo "audit log after the run: $(du -sh "$work/data/audit/acme" | cut -f1)"
