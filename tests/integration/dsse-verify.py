#!/usr/bin/env python3
"""Verify a DSSE envelope with an independent implementation.

usage: dsse-verify.py ENVELOPE_FILE PUBLIC_KEY_PEM_FILE
Rebuilds the DSSE v1 pre-authentication encoding from the envelope's own
fields, verifies the one Ed25519 signature with the PEM key (python3-
cryptography), checks that the keyid is mlvm's id of that key (first 16
hex digits of the SHA-256 of its DER SubjectPublicKeyInfo), and prints the
decoded payload (an in-toto statement) as JSON. Exits 1 with the reason
otherwise. Uses nothing of mlvm.
"""
import base64
import binascii
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def main() -> int:
    env_file, pem_file = sys.argv[1], sys.argv[2]
    with open(env_file, "rb") as f:
        env = json.loads(f.read())
    with open(pem_file, "rb") as f:
        key = serialization.load_pem_public_key(f.read())
    if not isinstance(key, Ed25519PublicKey):
        print("not an Ed25519 public key")
        return 1
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    want_id = hashlib.sha256(spki).hexdigest()[:16]
    if sorted(env) != ["payload", "payloadType", "signatures"] or len(env["signatures"]) != 1:
        print("not a DSSE envelope with one signature")
        return 1
    sig = env["signatures"][0]
    if sig.get("keyid") != want_id:
        print(f"keyid {sig.get('keyid')} is not the id of this key ({want_id})")
        return 1
    try:
        payload = base64.b64decode(env["payload"], validate=True)
        raw_sig = base64.b64decode(sig["sig"], validate=True)
    except binascii.Error as e:
        print(f"bad base64: {e}")
        return 1
    try:
        key.verify(raw_sig, pae(env["payloadType"], payload))
    except InvalidSignature:
        print("InvalidSignature: the signature does not verify over the PAE")
        return 1
    print(json.dumps({"payloadType": env["payloadType"], "keyid": sig["keyid"],
                      "statement": json.loads(payload)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
