#!/usr/bin/env bash
# Instructions per field encrypt + decrypt (32 B and 1 KiB), counted by
# valgrind's callgrind: Palisade's `Keyring` against ring's ChaCha20-Poly1305
# (fixed nonce; and an OS-random nonce per encryption) and RustCrypto's
# XChaCha20-Poly1305. Instruction counts do not move with the machine's load;
# they do not see time spent in the kernel (the `getrandom` system call).
#
#   cargo bench -p palisade-benches --bench crypt --no-run
#   bash benches/crypt-instructions.sh [ROUND_TRIPS, default 10000]
set -euo pipefail
n="${1:-10000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(ls -t "${CARGO_TARGET_DIR:-$root/target}"/release/deps/crypt-* | grep -v '\.d$' | head -1)"
count() { # op:bytes, round trips
    CRYPT_BENCH_OP="$1" CRYPT_BENCH_N="$2" valgrind --tool=callgrind \
        --callgrind-out-file=/dev/null "$bin" 2>&1 | awk '/Collected/ {print $4}'
}
printf '%-16s %6s %12s %10s\n' operation bytes instr/op "vs ring"
for bytes in 32 1024; do
    declare -A per=()
    for op in ring palisade ring-getrandom rustcrypto; do
        base="$(count "$op:$bytes" 0)"
        total="$(count "$op:$bytes" "$n")"
        per[$op]=$(( (total - base) / n ))
        printf '%-16s %6d %12d %9.2fx\n' "$op" "$bytes" "${per[$op]}" \
            "$(echo "${per[$op]} / ${per[ring]}" | bc -l)"
    done
    unset per
done
