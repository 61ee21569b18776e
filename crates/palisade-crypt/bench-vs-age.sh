#!/usr/bin/env bash
# `palisade crypt seal`/`open` against Debian's age (X25519 recipient) as whole
# commands: input in tmpfs (/dev/shm), output to /dev/null, so neither waits for
# a disk. Interleaved rounds: each round runs every command once, in an order
# rotated from round to round, so a change in the machine's load hits all
# commands alike. Each run is timed by /usr/bin/time (wall, user + system CPU,
# peak RSS). Printed per command: min and median wall time, median CPU time,
# largest peak RSS, and the speed against age (age's wall / Palisade's wall)
# taken round by round: min and median.
#
#   cargo build --release -p palisade-cli
#   bash crates/palisade-crypt/bench-vs-age.sh [MiB, default 1024] [rounds, default 7]
#
# PALISADE_BIN picks the binary; WORK_DIR the folder for the input (default
# /dev/shm); PIN=<cpu> runs the one-thread commands and age under
# `taskset -c <cpu>` as an extra, pinned set.
set -euo pipefail
mib="${1:-1024}"
rounds="${2:-7}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${PALISADE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/palisade}"
work="$(mktemp -d "${WORK_DIR:-/dev/shm}/palisade-vs-age.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cores="$(nproc)"

head -c "$((mib << 20))" /dev/urandom > "$work/in"
"$bin" crypt keygen --keyring "$work/keyring.json" > /dev/null
age-keygen -o "$work/age.key" 2> /dev/null
recipient="$(age-keygen -y "$work/age.key")"
"$bin" crypt seal --keyring "$work/keyring.json" < "$work/in" > "$work/in.pcst"
age -r "$recipient" < "$work/in" > "$work/in.age"
# Both round trips must give the input back.
"$bin" crypt open --keyring "$work/keyring.json" < "$work/in.pcst" | cmp - "$work/in"
age -d -i "$work/age.key" < "$work/in.age" | cmp - "$work/in"

pin=()
[[ -n "${PIN:-}" ]] && pin=(taskset -c "$PIN")
names=(
    "palisade seal --threads 1"
    "palisade seal --threads $cores"
    "age -r (X25519)"
    "palisade open --threads 1"
    "palisade open --threads $cores"
    "age -d"
)
commands=(
    "${pin[*]} '$bin' crypt seal --threads 1 --keyring '$work/keyring.json' < '$work/in' > /dev/null"
    "'$bin' crypt seal --threads $cores --keyring '$work/keyring.json' < '$work/in' > /dev/null"
    "${pin[*]} age -r '$recipient' < '$work/in' > /dev/null"
    "${pin[*]} '$bin' crypt open --threads 1 --keyring '$work/keyring.json' < '$work/in.pcst' > /dev/null"
    "'$bin' crypt open --threads $cores --keyring '$work/keyring.json' < '$work/in.pcst' > /dev/null"
    "${pin[*]} age -d -i '$work/age.key' < '$work/in.age' > /dev/null"
)
# The age command each Palisade command is compared with.
yardstick=(2 2 2 5 5 5)

echo "input: $mib MiB of random bytes in $(df --output=fstype "$work" | tail -1), $rounds interleaved rounds, $cores cores${PIN:+, one-thread commands and age pinned to CPU $PIN}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$work/in" "$work/in.pcst" "$work/in.age" > /dev/null
count=${#commands[@]}
for ((round = 0; round < rounds; round++)); do
    for ((k = 0; k < count; k++)); do
        i=$(( (k + round) % count ))
        /usr/bin/time -f "%e %U %S %M" -o "$work/t" sh -c "${commands[$i]}"
        echo "$round $i $(cat "$work/t")" >> "$work/runs"
    done
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf '%-28s %8s %8s %8s %9s %16s\n' command "min s" "median s" "cpu s" "peak MiB" "vs age min/med"
for ((i = 0; i < count; i++)); do
    walls="$(awk -v i="$i" '$2 == i { print $3 }' "$work/runs")"
    min="$(echo "$walls" | sort -g | head -1)"
    med="$(echo "$walls" | median)"
    cpu="$(awk -v i="$i" '$2 == i { print $4 + $5 }' "$work/runs" | median)"
    rss="$(awk -v i="$i" '$2 == i && $6 > m { m = $6 } END { printf "%.1f", m / 1024 }' "$work/runs")"
    vs=""
    y="${yardstick[$i]}"
    if [[ "$y" != "$i" ]]; then
        ratios="$(awk -v i="$i" -v y="$y" '$2 == i { a[$1] = $3 } $2 == y { b[$1] = $3 }
            END { for (r in a) if (a[r] > 0) print b[r] / a[r] }' "$work/runs")"
        vs="$(printf '%.2fx / %.2fx' "$(echo "$ratios" | sort -g | head -1)" "$(echo "$ratios" | median)")"
    fi
    printf '%-28s %8.2f %8.2f %8.2f %9s %16s\n' "${names[$i]}" "$min" "$med" "$cpu" "$rss" "$vs"
done
