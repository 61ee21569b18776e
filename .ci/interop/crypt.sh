#!/usr/bin/env bash
# palisade-crypt: regenerate the known-answer vectors with the independent
# Python implementation (libsodium via PyNaCl, pyca/cryptography, hashlib)
# and check they match the committed data the Rust tests read.
set -euo pipefail
cd "$(dirname "$0")/../.."
python3 -m pip install -q pynacl cryptography 2>/dev/null || python3 -m pip install -q --break-system-packages pynacl cryptography
data=crates/palisade-crypt/tests/data
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$data/make_kat.py" "$tmp/"
python3 "$tmp/make_kat.py"
diff -u "$data/kat.json" "$tmp/kat.json"
echo "palisade-crypt: known-answer vectors reproduced by the Python reference"
