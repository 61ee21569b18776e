#!/usr/bin/env bash
# Interop check for palisade-otp against pyotp, run live:
# - the URI that `palisade otp new` prints parses in pyotp to the same secret,
#   issuer and account name, for plain and awkward names;
# - pyotp and `palisade otp code` agree on the code at fixed times, and
#   `palisade otp verify` accepts pyotp's code and refuses a wrong one.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -c 'import pyotp' 2>/dev/null || pip install -q pyotp

# The binary the workspace's tests built (features unified across the
# workspace); built here only when run on its own.
[ -x "${CARGO_TARGET_DIR:-target}/debug/palisade" ] || cargo build --workspace --locked -q --bins
bin="${CARGO_TARGET_DIR:-target}/debug/palisade"

checked=0
while IFS='|' read -r issuer account; do
    out=$("$bin" otp new --issuer "$issuer" --account "$account")
    secret=$(sed -n 1p <<<"$out")
    uri=$(sed -n 2p <<<"$out")
    ISSUER="$issuer" ACCOUNT="$account" SECRET="$secret" URI="$uri" python3 - <<'PY'
import os, sys, pyotp
otp = pyotp.parse_uri(os.environ["URI"])
want = (os.environ["SECRET"], os.environ["ISSUER"], os.environ["ACCOUNT"])
got = (otp.secret, otp.issuer, otp.name)
if got != want:
    sys.exit(f"pyotp read {got!r} from {os.environ['URI']!r}, expected {want!r}")
PY
    for t in 0 59 1111111109 1700000000 20000000000; do
        ours=$(printf '%s\n' "$secret" | "$bin" otp code --time "$t")
        theirs=$(SECRET="$secret" T="$t" python3 -c 'import os, pyotp; print(pyotp.TOTP(os.environ["SECRET"]).at(int(os.environ["T"])))')
        [ "$ours" = "$theirs" ] || { echo "code mismatch at $t: palisade $ours, pyotp $theirs"; exit 1; }
        printf '%s\n' "$secret" | "$bin" otp verify --code "$theirs" --time "$t" >/dev/null
        wrong=$(printf '%06d' $(( (10#$theirs + 1) % 1000000 )))
        if printf '%s\n' "$secret" | "$bin" otp verify --code "$wrong" --time "$t" 2>/dev/null; then
            echo "verify accepted a wrong code at $t"; exit 1
        fi
    done
    checked=$((checked + 1))
done <<'NAMES'
ACME Co|alice@example.com
Example|bob
Big Corporation|alice smith+ops@bigco.example
Ünïcödé GmbH|jörg/ßtraße@例え.jp
R&D #1 (100% ok)|x=y?z
NAMES

echo "otp interop: $checked URIs from 'palisade otp new' read back by pyotp with the same secret, issuer and account; codes and verification agree at 5 times each"
