#!/usr/bin/env bash
# The back office's backup (issue 18) against `sqlite3 .backup` followed by
# `age`, on the same 1 GiB SQLite database, in one run, alternating.
#
# Both sides do the same work: a consistent copy of the live database, then
# encryption of the copy into a file. Palisade also packs the audit log and
# a manifest of SHA-256 digests, and fsyncs the sealed file. Files live in
# /dev/shm (tmpfs), so neither side waits for a disk. Prints wall time and
# peak RSS (GNU time) per run and the ratio of the medians.
#
#   bash benches/backoffice/backup-vs-age.sh     # SIZE_MIB=1024 ROUNDS=3
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --release -q -p palisade-backoffice
bin="${CARGO_TARGET_DIR:-$root/target}/release/palisade-backoffice"
work="$(mktemp -d /dev/shm/backup-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
size="${SIZE_MIB:-1024}"; rounds="${ROUNDS:-3}"
data="$work/data"
# The back office's schema and a demo tenant, then filler rows up to the size.
"$bin" backup --dev --data "$data" --out "$work/warmup" --no-drill > /dev/null
sqlite3 "$data/backoffice.sqlite3" "CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB);
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $((size * 16)))
  INSERT INTO filler (body) SELECT randomblob(65536) FROM n;"
echo "database: $(du -h "$data/backoffice.sqlite3" | cut -f1)"
age-keygen -o "$work/age.key" 2> /dev/null
recipient="$(age-keygen -y "$work/age.key")"
ours=(); theirs=()
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/out" "$work/ref"; mkdir -m 700 -p "$work/out" "$work/ref"
  t="$( { /usr/bin/time -f '%e %M' "$bin" backup --dev --data "$data" --out "$work/out" --no-drill > /dev/null; } 2>&1 | tail -1)"
  echo "round $r palisade-backoffice backup: ${t% *} s, peak ${t#* } KiB"
  ours+=("${t% *}")
  t1="$( { /usr/bin/time -f '%e %M' sqlite3 "$data/backoffice.sqlite3" ".backup $work/ref/copy.sqlite3"; } 2>&1 | tail -1)"
  t2="$( { /usr/bin/time -f '%e %M' age -r "$recipient" -o "$work/ref/copy.age" "$work/ref/copy.sqlite3"; } 2>&1 | tail -1)"
  total="$(echo "${t1% *} + ${t2% *}" | bc -l)"
  echo "round $r sqlite3 .backup + age: ${t1% *} s + ${t2% *} s = $total s, peak ${t1#* } / ${t2#* } KiB"
  theirs+=("$total")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo="$(median "${ours[@]}")"; mt="$(median "${theirs[@]}")"
echo "median palisade $mo s, sqlite3+age $mt s, ratio $(echo "$mo / $mt" | bc -l | cut -c1-5) (goal <= 1.0)"
