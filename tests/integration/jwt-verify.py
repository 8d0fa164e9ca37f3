#!/usr/bin/env python3
"""Verify an mlvm run JWT with an independent implementation (PyJWT).

usage: jwt-verify.py TOKEN PUBLIC_KEY_PEM_FILE
Prints the claims as JSON and exits 0 when the token verifies (signature,
EdDSA, audience "mlvm", exp/nbf); prints the reason and exits 1 otherwise.
"""
import json
import sys

import jwt

tok, pem_file = sys.argv[1], sys.argv[2]
with open(pem_file, "rb") as f:
    pem = f.read()
try:
    header = jwt.get_unverified_header(tok)
    claims = jwt.decode(tok, pem, algorithms=["EdDSA"], audience="mlvm")
except jwt.PyJWTError as e:
    print(f"{type(e).__name__}: {e}")
    sys.exit(1)
print(json.dumps({"header": header, "claims": claims}))
