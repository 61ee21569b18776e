#!/usr/bin/env bash
# Whole-command comparison: `palisade password hash` against a C program that
# does one crypto_pwhash_str with the system libsodium (same parameters:
# m=19456 KiB, t=2, p=1), each started as a new process with the same
# password on standard input, in interleaved pairs (A B A B ...).
#
#   bash benches/password/command.sh [PAIRS]     (default 15)
#   PIN=1 bash benches/password/command.sh       (both pinned to CPU 1)
#   PALISADE=/path/to/palisade bash benches/password/command.sh
#                                                (another build, e.g. before a change)
#
# Prints, per side, min and median of wall time, user+system CPU time, peak
# RSS and minor page faults (the kernel's accounting of each child), the median of the per-pair
# wall and CPU ratios, and libsodium's own per-hash time in a C loop (one
# process, 30 hashes). Before timing it checks that each side verifies the
# other's hashes. Needs a C compiler, pkg-config, libsodium-dev and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

pairs=${1:-15}
target=${CARGO_TARGET_DIR:-target}
if [ -z "${PALISADE:-}" ]; then
    cargo build --release --locked -q -p palisade-cli
fi
palisade=${PALISADE:-$target/release/palisade}
sodium="$target/sodium_pwhash"
mkdir -p "$target"
# shellcheck disable=SC2046 # pkg-config prints several flags
cc -O2 -Wall -Wextra -o "$sodium" benches/password/sodium_pwhash.c $(pkg-config --cflags --libs libsodium)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'correct horse battery staple\n' >"$work/password"

# Same function: each side verifies the other's PHC string.
ours=$("$palisade" password hash <"$work/password")
theirs=$("$sodium" hash <"$work/password")
[ "$("$sodium" verify "$ours" <"$work/password")" = valid ]
[ "$("$palisade" password verify "$theirs" <"$work/password")" = valid ]
echo "palisade: $ours (libsodium: valid)"
echo "libsodium: $theirs (palisade: valid)"

pin=()
[ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")

# Each run: a new process with the password on standard input; wall time
# from a monotonic clock around fork and wait, CPU time, peak RSS and minor
# page faults from the kernel's accounting of the child (wait4).
PAIRS=$pairs PASSWORD_FILE="$work/password" python3 - "${pin[@]}" -- "$palisade" "$sodium" <<'PY'
import os, statistics, sys, time

args = sys.argv[1:]
pin, (palisade, sodium) = args[: args.index("--")], args[args.index("--") + 1 :]
sides = {
    "palisade password hash": pin + [palisade, "password", "hash"],
    "C crypto_pwhash_str": pin + [sodium, "hash"],
}

def run(argv):
    with open(os.environ["PASSWORD_FILE"], "rb") as stdin, open(os.devnull, "wb") as null:
        actions = [(os.POSIX_SPAWN_DUP2, stdin.fileno(), 0), (os.POSIX_SPAWN_DUP2, null.fileno(), 1)]
        started = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        wall = time.perf_counter() - started
    if status != 0:
        sys.exit(f"{argv} exited with status {status}")
    return wall * 1e3, (usage.ru_utime + usage.ru_stime) * 1e3, usage.ru_maxrss, usage.ru_minflt

for argv in sides.values():  # warm-up, not counted
    run(argv)
runs = {name: [] for name in sides}
for _ in range(int(os.environ["PAIRS"])):
    for name, argv in sides.items():
        runs[name].append(run(argv))

print(f"{len(runs['C crypto_pwhash_str'])} interleaved pairs, min / median:")
print(f"{'command':26} {'wall ms':>16} {'user+sys ms':>16} {'peak RSS KiB':>16} {'minor faults':>14}")
for name, values in runs.items():
    cells = []
    for col in range(4):
        column = [v[col] for v in values]
        cells.append(f"{min(column):.1f} / {statistics.median(column):.1f}" if col < 2 else f"{min(column)} / {statistics.median(column):.0f}")
    print(f"{name:26} {cells[0]:>16} {cells[1]:>16} {cells[2]:>16} {cells[3]:>14}")
ours, theirs = runs["palisade password hash"], runs["C crypto_pwhash_str"]
for col, what in [(0, "wall"), (1, "user+sys")]:
    ratio = statistics.median(a[col] / b[col] for a, b in zip(ours, theirs))
    print(f"median per-pair ratio palisade / libsodium, {what}: {ratio:.3f}")
PY
echo "libsodium in one process (C loop):"
"${pin[@]}" "$sodium" loop 30
