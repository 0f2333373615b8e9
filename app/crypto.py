"""Secrets Stagegate must read back (IMAP and SMTP relay passwords, emails that carry a bearer link while
they wait): Fernet, keyed from SECRET_KEY.

Each purpose derives its own key, so a token written for one purpose never reads as another.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

MAILBOX_PASSWORDS = b"stagegate mailbox passwords"
RELAY_PASSWORDS = b"stagegate relay passwords"
SEALED_EMAILS = b"stagegate sealed outbound emails"
SMS_TOKENS = b"stagegate sms provider tokens"
SMS_WEBHOOK_SECRETS = b"stagegate sms webhook secrets"


class Unreadable(ValueError):
    """The token was not written with this installation's SECRET_KEY (it changed, or the row was edited)."""


def _fernet(purpose: bytes) -> Fernet:
    secret = current_app.config["SECRET_KEY"].encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(secret: str, purpose: bytes = MAILBOX_PASSWORDS) -> str:
    """Return `secret` encrypted for storage."""
    return _fernet(purpose).encrypt(secret.encode()).decode()


def decrypt(token: str, purpose: bytes = MAILBOX_PASSWORDS) -> str:
    """Read back what encrypt() stored; Unreadable when this key did not write it."""
    try:
        return _fernet(purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        raise Unreadable("the stored secret cannot be read with this SECRET_KEY") from None


def seal(data: bytes, purpose: bytes = SEALED_EMAILS) -> bytes:
    """Return `data` encrypted for storage (bytes in, bytes out: a finished email)."""
    return _fernet(purpose).encrypt(data)


def unseal(token: bytes, purpose: bytes = SEALED_EMAILS) -> bytes:
    """Read back what seal() stored; Unreadable when this key did not write it."""
    try:
        return _fernet(purpose).decrypt(token)
    except (InvalidToken, ValueError):
        raise Unreadable("the stored message cannot be read with this SECRET_KEY") from None
