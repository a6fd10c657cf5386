"""Service-account key files for the local world: real RSA keys, token_uri pointing at IamFake.

The private key exists only in the key file inside the world's temporary folder; it is a
throw-away key that no Google service knows, made fresh for every world.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["write_service_account_key"]


def write_service_account_key(path: Path, email: str, project: str, token_uri: str) -> rsa.RSAPublicKey:
    """Write a key file google.auth accepts as ADC; return the public key for the fake to verify."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    path.chmod(0o600)
    return key.public_key()
