#!/usr/bin/env python3
"""Regenerates reference_vectors.json: password hashes made by the reference
implementations a migrating SaaS meets, for palisade-password's tests.

Run from this folder: python3 make_vectors.py > reference_vectors.json
Needs: argon2-cffi (libargon2), bcrypt, passlib, django (all on PyPI).
Every vector is checked by its own reference before it is written out, and
each carries a wrong password that the reference rejects.
Costs are kept low so the Rust tests stay fast in debug builds.
"""

import json
import os
import sys
from importlib.metadata import version

import argon2
import argon2.low_level as ll
import bcrypt
from django.conf import settings

settings.configure()
from django.contrib.auth.hashers import PBKDF2PasswordHasher  # noqa: E402
from passlib.hash import pbkdf2_sha256, scrypt  # noqa: E402

PASSWORDS = ["password", "correct horse battery staple", "pässwörd ☃", "x" * 64]
WRONG = "not the password"

vectors = []


def add(scheme, password, encoded, origin, check):
    assert check(password, encoded), (scheme, password, encoded)
    assert not check(WRONG, encoded), (scheme, encoded)
    vectors.append(
        {"scheme": scheme, "password": password, "wrong": WRONG, "hash": encoded, "origin": origin}
    )


def argon2_check(password, encoded):
    try:
        return argon2.PasswordHasher().verify(encoded, password)
    except argon2.exceptions.VerifyMismatchError:
        return False


cffi = f"argon2-cffi {version('argon2-cffi')} (libargon2)"
# Argon2id, Argon2i, Argon2d at version 0x13 and 0x10, random salts.
for i, pw in enumerate(PASSWORDS):
    for kind, name in ((ll.Type.ID, "argon2id"), (ll.Type.I, "argon2i"), (ll.Type.D, "argon2d")):
        for ver in (19, 16) if i == 0 else (19,):
            encoded = ll.hash_secret(
                pw.encode(), os.urandom(16), time_cost=1 + i % 3, memory_cost=64 * (i + 1),
                parallelism=1 + i % 2, hash_len=32, type=kind, version=ver,
            ).decode()
            add(name, pw, encoded, cffi, argon2_check)
# The high-level PasswordHasher at argon2-cffi's own (RFC 9106 low-memory) profile.
add("argon2id", "password", argon2.PasswordHasher(memory_cost=1024).hash("password"), cffi, argon2_check)

# Reference PHC strings of the libargon2 test suite (src/test.c: "password", "somesalt"),
# recomputed here with libargon2 through argon2-cffi.
for kind, name in ((ll.Type.ID, "argon2id"), (ll.Type.I, "argon2i"), (ll.Type.D, "argon2d")):
    for ver in (19, 16):
        encoded = ll.hash_secret(b"password", b"somesalt", time_cost=2, memory_cost=256,
                                 parallelism=1, hash_len=32, type=kind, version=ver).decode()
        add(name, "password", encoded, cffi + ", libargon2 test.c inputs", argon2_check)
known = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
assert ll.hash_secret(b"password", b"somesalt", time_cost=2, memory_cost=65536, parallelism=1,
                      hash_len=32, type=ll.Type.ID).decode() == known
add("argon2id", "password", known, "libargon2 src/test.c (argon2id, v=0x13, m=65536)", argon2_check)

# bcrypt: $2b$ from pyca/bcrypt; $2a$ and $2y$ are the same computation for these
# passwords (no 8-bit bug), renamed and re-checked with bcrypt.checkpw.
bc = f"bcrypt {version('bcrypt')} (pyca)"
for i, pw in enumerate(PASSWORDS):
    encoded = bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4 + i % 2)).decode()
    check = lambda p, h: bcrypt.checkpw(p.encode(), h.encode())  # noqa: E731
    add("bcrypt", pw, encoded, bc, check)
    for ident in ("2a", "2y"):
        add("bcrypt", pw, f"${ident}${encoded[4:]}", bc + f", ident renamed to ${ident}$", check)

# Django's PBKDF2PasswordHasher: pbkdf2_sha256$<iterations>$<salt>$<base64 hash>
django_hasher = PBKDF2PasswordHasher()
dj = f"Django {version('django')} PBKDF2PasswordHasher"
for i, pw in enumerate(PASSWORDS):
    encoded = django_hasher.encode(pw, django_hasher.salt(), iterations=1000 + 500 * i)
    add("django-pbkdf2-sha256", pw, encoded, dj, django_hasher.verify)

# passlib's pbkdf2_sha256: $pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>; make sure
# at least one vector uses the '.' of passlib's adapted base64.
pl = f"passlib {version('passlib')}"
for i, pw in enumerate(PASSWORDS):
    while True:
        encoded = pbkdf2_sha256.using(rounds=1000 + 250 * i).hash(pw)
        if i > 0 or "." in encoded.split("$", 3)[3]:
            break
    add("passlib-pbkdf2-sha256", pw, encoded, pl + " pbkdf2_sha256", pbkdf2_sha256.verify)

# scrypt in the PHC format shared by passlib and RustCrypto's scrypt crate:
# $scrypt$ln=<log2 N>,r=<r>,p=<p>$<B64 salt>$<B64 hash>
for i, pw in enumerate(PASSWORDS):
    encoded = scrypt.using(rounds=8 + i % 3, block_size=8, parallelism=1 + i % 2).hash(pw)
    add("scrypt", pw, encoded, pl + " scrypt (hashlib backend)", scrypt.verify)

json.dump(
    {
        "generated_by": "make_vectors.py",
        "note": "each hash verified by its reference with `password` and rejected with `wrong`",
        "vectors": vectors,
    },
    sys.stdout,
    indent=1,
    ensure_ascii=False,
)
sys.stdout.write("\n")
