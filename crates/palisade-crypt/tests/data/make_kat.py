#!/usr/bin/env python3
"""Known-answer vectors for palisade-crypt's field envelope v2 and stream format v1.

An independent implementation of the formats as the README specifies them, on
PyNaCl (libsodium's XChaCha20-Poly1305), pyca/cryptography (ChaCha20-Poly1305)
and Python's hmac/hashlib (HKDF-SHA256, RFC 5869). Writes kat.json next to this
script. Run: pip install pynacl cryptography && python3 make_kat.py
"""
import hashlib
import hmac
import json
import os
import struct

import nacl.bindings as sodium
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305


def hkdf_expand(prk: bytes, info: bytes, length: int = 32) -> bytes:
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:length]


def hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def encode_context(ctx: dict) -> bytes:
    out = struct.pack(">I", len(ctx))
    for label in sorted(ctx):
        value = ctx[label].encode()
        out += struct.pack(">I", len(label.encode())) + label.encode()
        out += struct.pack(">I", len(value)) + value
    return out


def seal_field(key: bytes, key_id: int, nonce: bytes, ctx: dict, plaintext: bytes) -> bytes:
    encryption_key = hkdf_expand(key, b"palisade-crypt v2 field key")
    commitment = hkdf_expand(key, b"palisade-crypt v2 field commit")
    header = bytes([2]) + struct.pack(">I", key_id) + nonce + commitment
    aad = header + encode_context(ctx)
    return header + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, encryption_key)


def seal_stream(key: bytes, key_id: int, salt: bytes, ctx: dict, plaintext: bytes) -> bytes:
    prefix = b"PCST" + bytes([1]) + struct.pack(">I", key_id) + salt
    prk = hkdf_extract(salt, key)
    c = encode_context(ctx)
    payload_key = hkdf_expand(prk, b"palisade-crypt v1 stream payload key" + prefix + c)
    commitment = hkdf_expand(prk, b"palisade-crypt v1 stream commitment" + prefix + c)
    aead = ChaCha20Poly1305(payload_key)
    out = prefix + commitment
    chunk = 64 * 1024
    chunks = [plaintext[i:i + chunk] for i in range(0, len(plaintext), chunk)] or [b""]
    for n, piece in enumerate(chunks):
        last = n == len(chunks) - 1
        nonce = n.to_bytes(11, "big") + bytes([1 if last else 0])
        out += aead.encrypt(nonce, piece, None)
    return out


def pattern(n: int) -> bytes:
    return bytes((i * 31 + 7) % 256 for i in range(n))


def main() -> None:
    key = bytes(range(32))
    nonce = bytes(range(0x40, 0x58))
    salt = bytes(range(0x80, 0xA0))
    ctx = {"tenant": "acme", "table": "users", "column": "email", "row": "42"}
    fields = []
    for key_id, plaintext in [(1, b""), (7, b"alice@example.com"), (0xDEADBEEF, pattern(100))]:
        envelope = seal_field(key, key_id, nonce, ctx, plaintext)
        fields.append({"key_id": key_id, "plaintext": plaintext.hex(), "envelope": envelope.hex()})
    streams = []
    for length in [0, 1, 100, 65536, 65537, 3 * 65536 + 5]:
        sealed = seal_stream(key, 3, salt, ctx, pattern(length))
        entry = {"key_id": 3, "plaintext_len": length, "sealed_len": len(sealed),
                 "sealed_sha256": hashlib.sha256(sealed).hexdigest()}
        if length <= 100:
            entry["sealed"] = sealed.hex()
        streams.append(entry)
    kat = {
        "source": "crates/palisade-crypt/tests/data/make_kat.py (independent implementation of the README formats on libsodium, pyca/cryptography, hashlib)",
        "key": key.hex(),
        "nonce": nonce.hex(),
        "salt": salt.hex(),
        "context": ctx,
        "plaintext_pattern": "byte i = (31 * i + 7) mod 256",
        "fields": fields,
        "streams": streams,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kat.json")
    with open(path, "w") as f:
        json.dump(kat, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
