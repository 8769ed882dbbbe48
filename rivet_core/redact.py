"""Strip secrets from text before it reaches a log line, an error message or a written artifact."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "***"

# `scheme://user:password@host`: the password runs to the last `@` of the (whitespace/quote-free) token, so an
# unencoded `@` inside a password is still masked; over-masking an odd URL is preferred to leaking.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@'\"<>]*:)"
    r"(?P<secret>[^\s'\"<>]+)"
    r"@(?=[^\s'\"<>@]*(?:[\s'\"<>]|$))"
)

# `password=...` in libpq/ODBC-style DSNs and URL query strings (`?sslpassword=x&...`), quoted or bare.
_KV_PASSWORD = re.compile(
    r"(?i)(?P<head>\b[a-z_]*(?:password|passwd|pwd)\s*=\s*)"
    r"(?P<secret>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\"]+)"
)

_MIN_SECRET_LEN = 3


def redact_url(url: str) -> str:
    """Return `url` with the userinfo password and any `password=` query value replaced by `***`."""
    url = _URL_PASSWORD.sub(lambda m: f"{m['head']}{MASK}@", url)
    return _KV_PASSWORD.sub(lambda m: f"{m['head']}{MASK}", url)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords, DSN `password=` values and every given literal secret (of length >= 3) in `text`.

    Each secret is also masked in its percent-encoded form, as it appears inside a connection URL. Short
    secrets are skipped: masking every `ab` in a message would destroy it and protect nothing.
    """
    literals: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET_LEN:
            literals.add(secret)
            literals.add(quote(secret, safe=""))
    for literal in sorted(literals, key=len, reverse=True):
        text = text.replace(literal, MASK)
    return redact_url(text)
