#!/usr/bin/env bash
# palisade-pii against python-stdnum, live: a fresh random seed each run,
# 10,000 valid and broken numbers per kind, and Kind::validate must agree with
# stdnum on every one (the committed vectors are the fixed-seed version).
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -c "import stdnum" 2>/dev/null || pip install -q python-stdnum
vectors=$(mktemp)
trap 'rm -f "$vectors"' EXIT
seed=$(( (RANDOM << 15) | RANDOM ))
echo "palisade-pii differential vs python-stdnum, seed $seed"
python3 crates/palisade-pii/scripts/gen_differential.py --seed "$seed" > "$vectors"
PALISADE_PII_DIFFERENTIAL="$vectors" cargo test -q --locked --workspace --test differential
