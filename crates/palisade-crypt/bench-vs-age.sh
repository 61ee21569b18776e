#!/usr/bin/env bash
# Seal and open the same file with `palisade crypt seal/open` and with Debian's
# age (X25519 recipient), whole commands, under /usr/bin/time -v: wall time,
# throughput and peak resident memory. Size in MiB as $1 (default 1024).
#
#   cargo build --release -p palisade-cli
#   bash crates/palisade-crypt/bench-vs-age.sh 1024
set -euo pipefail
mib="${1:-1024}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${PALISADE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/palisade}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

head -c "$((mib << 20))" /dev/urandom > "$work/in"
"$bin" crypt keygen --keyring "$work/keyring.json" > /dev/null
age-keygen -o "$work/age.key" 2> /dev/null
recipient="$(age-keygen -y "$work/age.key")"

measure() { # label, command...
    local label="$1"; shift
    /usr/bin/time -v "$@" 2> "$work/time" > /dev/null
    local wall rss
    wall="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time")"
    rss="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")"
    local secs
    secs="$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')"
    printf '%-22s %8.2f s  %8.0f MiB/s  peak RSS %6d KiB\n' "$label" "$secs" "$(echo "$mib / $secs" | bc -l)" "$rss"
}

echo "input: $mib MiB of random bytes"
# Warm the page cache for both.
cat "$work/in" > /dev/null
measure "palisade crypt seal" sh -c "'$bin' crypt seal --keyring '$work/keyring.json' < '$work/in' > '$work/p.sealed'"
measure "age -r (X25519)" sh -c "age -r '$recipient' < '$work/in' > '$work/a.age'"
measure "palisade crypt open" sh -c "'$bin' crypt open --keyring '$work/keyring.json' < '$work/p.sealed' > '$work/p.out'"
measure "age -d" sh -c "age -d -i '$work/age.key' < '$work/a.age' > '$work/a.out'"
cmp "$work/in" "$work/p.out" && cmp "$work/in" "$work/a.out" && echo "both round trips identical"
ls -l "$work/p.sealed" "$work/a.age" | awk '{print $5, $9}'
