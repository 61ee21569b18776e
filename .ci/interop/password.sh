#!/usr/bin/env bash
# Interop of palisade-password with the reference Argon2 (libargon2 through
# argon2-cffi), both ways, through the real `palisade` binary:
#  1. hashes made by `palisade password hash` verify in argon2-cffi (and a
#     wrong password is rejected there);
#  2. hashes made by argon2-cffi verify with `palisade password verify`;
#  3. the same both ways with libsodium (the system library, through
#     benches/password/sodium_pwhash.c: crypto_pwhash_str_verify and
#     crypto_pwhash_str), the reference of the password benches.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -c "import argon2" 2>/dev/null || python3 -m pip install -q argon2-cffi

# The binary the workspace's tests built (features unified across the
# workspace); built here only when run on its own.
[ -x "${CARGO_TARGET_DIR:-target}/debug/palisade" ] || cargo build --workspace --locked -q --bins
bin="${CARGO_TARGET_DIR:-target}/debug/palisade"

passwords=("correct horse battery staple" "pässwörd ☃ with unicode" "x" "$(printf '%0.s7' {1..100})")
params=("" "--m-cost 4096 --t-cost 3 --p-cost 2" "--m-cost 47104 --t-cost 1 --p-cost 1")

checked=0
for pw in "${passwords[@]}"; do
    for p in "${params[@]}"; do
        # shellcheck disable=SC2086 # word splitting of the flags is intended
        hash=$(printf '%s\n' "$pw" | "$bin" password hash $p)
        PW="$pw" HASH="$hash" python3 - <<'PY'
import os, sys
import argon2
ph = argon2.PasswordHasher()
pw, h = os.environ["PW"], os.environ["HASH"]
assert ph.verify(h, pw), h
try:
    ph.verify(h, pw + "!")
    sys.exit(f"argon2-cffi accepted a wrong password for {h}")
except argon2.exceptions.VerifyMismatchError:
    pass
PY
        checked=$((checked + 1))
    done
done
echo "palisade -> argon2-cffi: $checked hashes verified, wrong passwords rejected"

reverse=0
for pw in "${passwords[@]}"; do
    for args in "2 19456 1 id" "1 1024 4 id" "3 256 1 i" "2 512 2 d"; do
        read -r t m p kind <<<"$args"
        hash=$(PW="$pw" T=$t M=$m P=$p K=$kind python3 -c '
import os, argon2
kind = {"id": argon2.Type.ID, "i": argon2.Type.I, "d": argon2.Type.D}[os.environ["K"]]
ph = argon2.PasswordHasher(time_cost=int(os.environ["T"]), memory_cost=int(os.environ["M"]), parallelism=int(os.environ["P"]), type=kind)
print(ph.hash(os.environ["PW"]))')
        out=$(printf '%s\n' "$pw" | "$bin" password verify "$hash" --m-cost "$m" --t-cost "$t" --p-cost "$p") || true
        case "$kind:$out" in
            id:valid | i:"valid needs-upgrade" | d:"valid needs-upgrade") ;;
            *) echo "argon2-cffi hash $hash: palisade said '$out'"; exit 1 ;;
        esac
        if printf '%s\n' "$pw!" | "$bin" password verify "$hash" >/dev/null; then
            echo "palisade accepted a wrong password for $hash"; exit 1
        fi
        reverse=$((reverse + 1))
    done
done
echo "argon2-cffi -> palisade: $reverse hashes verified, wrong passwords rejected"

sodium="${CARGO_TARGET_DIR:-target}/sodium_pwhash"
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -Wall -Wextra -o "$sodium" benches/password/sodium_pwhash.c $(pkg-config --cflags --libs libsodium)
sodium_checked=0
for pw in "${passwords[@]}"; do
    for p in "${params[@]}"; do
        # shellcheck disable=SC2086 # word splitting of the flags is intended
        hash=$(printf '%s\n' "$pw" | "$bin" password hash $p)
        out=$(printf '%s\n' "$pw" | "$sodium" verify "$hash") || true
        [ "$out" = valid ] || { echo "libsodium said '$out' for palisade's $hash"; exit 1; }
        if printf '%s\n' "$pw!" | "$sodium" verify "$hash" >/dev/null; then
            echo "libsodium accepted a wrong password for $hash"; exit 1
        fi
        sodium_checked=$((sodium_checked + 1))
    done
    hash=$(printf '%s\n' "$pw" | "$sodium" hash)
    out=$(printf '%s\n' "$pw" | "$bin" password verify "$hash") || true
    [ "$out" = valid ] || { echo "libsodium hash $hash: palisade said '$out'"; exit 1; }
    if printf '%s\n' "$pw!" | "$bin" password verify "$hash" >/dev/null; then
        echo "palisade accepted a wrong password for libsodium's $hash"; exit 1
    fi
    sodium_checked=$((sodium_checked + 1))
done
echo "palisade <-> libsodium: $sodium_checked hashes verified both ways, wrong passwords rejected"
