"""Meta signs every webhook POST: header `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body, keyed
with the app secret>`. Anything else is refused."""
from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends for `body` (used by the tests' webhooks)."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(body: bytes, header: str | None, app_secret: str | None) -> bool:
    """Whether `header` is Meta's signature of the raw `body` (constant-time comparison)."""
    if not app_secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, app_secret).encode(), header.strip().encode())
