#!/usr/bin/env bash
# `palisade pii mask` as a whole command on the bench's short-line corpus
# (lines of about 100 bytes, one in five with a value): one thread against two
# (and against another build, if given), in interleaved runs, each pinned with
# taskset when it is there: one thread to CPU 0, two threads to CPUs 0 and 1.
# Prints min and median wall seconds and CPU seconds (user + system, what
# one core spent: the per-core figure on a shared machine, where wall time
# also counts the waits for a core), MB/s at each median, the two-thread
# speed-up (median of the per-round ratios), the load average before and
# after, and checks that every configuration writes the same bytes.
#
# The yardstick for the two-thread speed-up is what two cores of this machine
# give to work that shares nothing: each round also runs two independent
# one-thread processes at once, each masking the whole input on its own CPU.
# Twice the one-thread time over that pair's time is the most any two-thread
# run could reach here (shared caches, memory bandwidth and the host's other
# guests included); it is printed next to the speed-up.
#
#   cargo build --release -p palisade-cli -p palisade-benches
#   bash crates/palisade-pii/bench-mask.sh [MB] [ROUNDS]       # default 100 MB, 7 rounds
#   PALISADE_BASELINE=/path/to/old/palisade bash crates/palisade-pii/bench-mask.sh
#
# A build of another commit for PALISADE_BASELINE:
#   git worktree add /tmp/base <commit> && cargo build --release -p palisade-cli \
#     --manifest-path /tmp/base/Cargo.toml --target-dir /tmp/base-target
set -euo pipefail
mb="${1:-100}"
rounds="${2:-7}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}/release"
bin="${PALISADE_BIN:-$target/palisade}"
corpus_bin="${PII_CORPUS_BIN:-$target/pii-corpus}"
baseline="${PALISADE_BASELINE:-}"
# tmpfs when there is one: the input is read from memory, not the disk.
if [ -d /dev/shm ]; then work="$(mktemp -d /dev/shm/pii-bench.XXXXXX)"; else work="$(mktemp -d)"; fi
trap 'rm -rf "$work"' EXIT

"$corpus_bin" short "$mb" > "$work/in"
bytes="$(wc -c < "$work/in")"
run() { # label, cpus, command... ; appends "wall cpu" seconds to $work/<label>
    local label="$1" cpus="$2"; shift 2
    local pin=()
    if command -v taskset > /dev/null; then pin=(taskset -c "$cpus"); fi
    /usr/bin/time -f '%e %U %S' -o "$work/t" "${pin[@]}" "$@" < "$work/in" > /dev/null
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$work/t" >> "$work/$label"
}

# The same bytes from every configuration.
"$bin" pii mask --threads 1 < "$work/in" > "$work/out1"
"$bin" pii mask --threads 2 < "$work/in" > "$work/out2"
cmp "$work/out1" "$work/out2"
if [ -n "$baseline" ]; then
    "$baseline" pii mask < "$work/in" > "$work/out0"
    cmp "$work/out0" "$work/out1"
fi
echo "input: $bytes bytes, $(wc -l < "$work/in") lines; output identical across configurations"
rm -f "$work/out0" "$work/out1" "$work/out2"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
pair() { # two independent one-thread processes at once, each the whole input
    local pin=""
    if command -v taskset > /dev/null; then pin="taskset -c"; fi
    /usr/bin/time -f '%e %U %S' -o "$work/t" sh -c '
        p="$1"; b="$2"; i="$3"
        if [ -n "$p" ]; then a0="$p 0"; a1="$p 1"; else a0=""; a1=""; fi
        $a0 "$b" pii mask --threads 1 < "$i" > /dev/null & $a1 "$b" pii mask --threads 1 < "$i" > /dev/null
        wait' sh "$pin" "$bin" "$work/in"
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$work/t" >> "$work/pair"
}
for _ in $(seq "$rounds"); do
    run one 0 "$bin" pii mask --threads 1
    run two 0,1 "$bin" pii mask --threads 2
    pair
    if [ -n "$baseline" ]; then run base 0 "$baseline" pii mask; fi
done

stats() { # label, name
    for col in 1 2; do
        cut -d' ' -f"$col" "$work/$1" | sort -n | awk -v name="$2" -v bytes="$bytes" -v col="$col" '
            { t[NR] = $1 }
            END {
                med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
                printf "%-34s %-4s min %6.3f s  median %6.3f s  %6.0f MB/s\n", name, (col == 1 ? "wall" : "cpu"), t[1], med, bytes / 1e6 / med
            }'
    done
}
stats one "pii mask --threads 1 (cpu 0)"
stats two "pii mask --threads 2 (cpus 0,1)"
stats pair "pair of 1-thread runs (MB: one input)"
[ -n "$baseline" ] && stats base "baseline pii mask (cpu 0)"
ratio() { # numerator label, denominator label, text
    paste -d' ' "$work/$1" "$work/$2" | awk '{ printf "%.4f\n", $1 / $3 }' | sort -n | awk -v text="$3" '
        { r[NR] = $1 }
        END {
            med = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
            printf "%s: median %.2fx (min %.2fx, max %.2fx) over %d rounds\n", text, med, r[1], r[NR], NR
        }'
}
ratio one two "two threads vs one, wall, faster by"
# One thread's wall time twice over the pair's: the pair did twice the work.
paste -d' ' "$work/one" "$work/pair" | awk '{ printf "%.4f\n", 2 * $1 / $3 }' | sort -n | awk '
    { r[NR] = $1 }
    END {
        med = (NR % 2) ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
        printf "two independent one-thread processes vs one (the most two cores give here): median %.2fx (min %.2fx, max %.2fx)\n", med, r[1], r[NR]
    }'
if [ -n "$baseline" ]; then ratio base one "one thread vs baseline, wall, faster by"; fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
